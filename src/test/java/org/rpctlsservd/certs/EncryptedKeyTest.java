package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.TestPki;

/** An encrypted certkey.pem, as openssl writes them (PKCS#8 and the traditional format), with --key-passphrase-file. */
class EncryptedKeyTest {
    @TempDir
    Path tmp;

    private Path certdir(TestPki.Issued who, String... opensslEncrypt) throws Exception {
        Path dir = tmp.resolve("certdir-" + opensslEncrypt[1]);
        TestPki.writeServer(dir, who);
        Files.writeString(tmp.resolve("pass"), "correct horse\n");
        Path plain = dir.resolve("certkey.pem");
        Path enc = dir.resolve("enc.pem");
        String[] cmd = new String[opensslEncrypt.length + 4];
        System.arraycopy(opensslEncrypt, 0, cmd, 0, opensslEncrypt.length);
        System.arraycopy(new String[] {"-in", plain.toString(), "-out", enc.toString()}, 0, cmd, opensslEncrypt.length, 4);
        Commands.Result r = Commands.run(30, cmd);
        assertEquals(0, r.status(), r.output());
        Files.move(enc, plain, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertTrue(Files.readString(plain).contains("ENCRYPTED"), Files.readString(plain));
        return dir;
    }

    @Test
    void pkcs8AndTraditionalEncryptedKeysOpenWithTheirPassphrase() throws Exception {
        TestPki.Ca ca = TestPki.ca("Enc CA");
        TestPki.Issued server = ca.leaf("server").issue();
        Path pkcs8 = certdir(server, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "file:" + tmp.resolve("pass"));
        Path traditional = certdir(server, "openssl", "pkey", "-traditional", "-aes256", "-passout", "file:" + tmp.resolve("pass"));
        ServerCredentials.KeySource pass = new ServerCredentials.KeySource(null, tmp.resolve("pass"));
        for (Path dir : new Path[] {pkcs8, traditional}) {
            ServerCredentials c = ServerCredentials.load(dir.toString(), pass);
            assertEquals(ServerCredentials.KeyType.EC, c.keyType());
            String noPass = assertThrows(java.io.IOException.class, () -> ServerCredentials.load(dir.toString())).getMessage();
            assertTrue(noPass.endsWith("the private key is encrypted and no --key-passphrase-file gives its passphrase"), noPass);
        }
        Files.writeString(tmp.resolve("wrong"), "battery staple\n");
        String wrong = assertThrows(java.io.IOException.class,
                () -> ServerCredentials.load(pkcs8.toString(), new ServerCredentials.KeySource(null, tmp.resolve("wrong")))).getMessage();
        assertTrue(wrong.endsWith("cannot decrypt the private key (wrong passphrase in --key-passphrase-file?)"), wrong);
    }
}
