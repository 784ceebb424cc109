package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.TestPki;

/** cert.pem and certkey.pem: the key forms, the directory with or without its slash, and refusals. */
class ServerCredentialsTest {
    @TempDir
    Path tmp;

    private final TestPki.Ca ca = TestPki.ca("CA");

    @Test
    void pkcs8Sec1AndPkcs1Keys() throws Exception {
        TestPki.Issued ec = ca.leaf("ec").issue();
        TestPki.Issued rsa = ca.leaf("rsa").rsa().issue();
        Path d = tmp.resolve("a");
        Files.createDirectories(d);
        Files.writeString(d.resolve("cert.pem"), TestPki.pem(ec.chain().toArray()));
        Files.writeString(d.resolve("certkey.pem"), TestPki.pem(new JcaPKCS8Generator(ec.privateKey(), null)));
        assertEquals(ServerCredentials.KeyType.EC, ServerCredentials.load(d.toString()).keyType());
        // SEC1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY") as OpenSSL writes them
        openssl(d, "ec", "-in", "certkey.pem", "-out", "certkey.pem");
        assertTrue(Files.readString(d.resolve("certkey.pem")).contains("BEGIN EC PRIVATE KEY"));
        assertEquals(ServerCredentials.KeyType.EC, ServerCredentials.load(d + "/").keyType());
        Files.writeString(d.resolve("cert.pem"), TestPki.pem(rsa.cert()));
        Files.writeString(d.resolve("certkey.pem"), TestPki.pem(new JcaPKCS8Generator(rsa.privateKey(), null)));
        assertEquals(ServerCredentials.KeyType.RSA, ServerCredentials.load(d.toString()).keyType());
        openssl(d, "rsa", "-traditional", "-in", "certkey.pem", "-out", "certkey.pem");
        assertTrue(Files.readString(d.resolve("certkey.pem")).contains("BEGIN RSA PRIVATE KEY"));
        assertEquals(ServerCredentials.KeyType.RSA, ServerCredentials.load(d.toString()).keyType());
    }

    private static void openssl(Path dir, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        org.rpctlsservd.support.Commands.Result r = org.rpctlsservd.support.Commands.runIn(dir.toFile(), 30, cmd);
        assertEquals(0, r.status(), r.output());
    }

    @Test
    void refusals() throws Exception {
        TestPki.Issued one = ca.leaf("one").issue();
        TestPki.Issued two = ca.leaf("two").issue();
        Path d = tmp.resolve("b");
        Files.createDirectories(d);
        IOException missing = assertThrows(IOException.class, () -> ServerCredentials.load(d.toString()));
        assertTrue(missing.getMessage().contains("cert.pem"), missing.getMessage());
        Files.writeString(d.resolve("cert.pem"), TestPki.pem(one.cert()));
        IOException noKey = assertThrows(IOException.class, () -> ServerCredentials.load(d.toString()));
        assertTrue(noKey.getMessage().contains("certkey.pem"), noKey.getMessage());
        Files.writeString(d.resolve("certkey.pem"), TestPki.pem(new JcaPKCS8Generator(two.privateKey(), null)));
        IOException mismatch = assertThrows(IOException.class, () -> ServerCredentials.load(d.toString()));
        assertTrue(mismatch.getMessage().contains("does not match"), mismatch.getMessage());
        Files.writeString(d.resolve("certkey.pem"), TestPki.pem(new JcaPKCS8Generator(ca.leaf("r").rsa().issue().privateKey(), null)));
        IOException type = assertThrows(IOException.class, () -> ServerCredentials.load(d.toString()));
        assertTrue(type.getMessage().contains("key type"), type.getMessage());
        Files.writeString(d.resolve("cert.pem"), "not a certificate\n");
        IOException garbage = assertThrows(IOException.class, () -> ServerCredentials.load(d.toString()));
        assertTrue(garbage.getMessage().endsWith("cert.pem (--certdir): not PEM (no -----BEGIN line)"), garbage.getMessage());
    }
}
