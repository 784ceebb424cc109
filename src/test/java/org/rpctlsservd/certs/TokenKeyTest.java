package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The server key in a PKCS#11 token (SoftHSM2, Debian's softhsm2, with opensc's pkcs11-tool to
 * store the certificate beside it): the daemon, a process of its own with SOFTHSM2_CONF set,
 * serves TLS with it, a SIGHUP picks up a rotated key and certificate, and a wrong PIN or label is
 * refused with a clear message.
 */
class TokenKeyTest {
    static final String MODULE = "/usr/lib/softhsm/libsofthsm2.so";
    static final String PIN = "4321";

    @TempDir
    Path tmp;

    private Commands.Result hsm(String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SOFTHSM2_CONF", tmp.resolve("softhsm2.conf").toString());
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        Commands.Result r = new Commands.Result(p.exitValue(), out);
        assertEquals(0, r.status(), String.join(" ", cmd) + ": " + out);
        return r;
    }

    private void initToken() throws Exception {
        Files.createDirectories(tmp.resolve("tokens"));
        Files.writeString(tmp.resolve("softhsm2.conf"), "directories.tokendir = " + tmp.resolve("tokens") + "\nobjectstore.backend = file\n");
        hsm("softhsm2-util", "--init-token", "--free", "--label", "rpc", "--pin", PIN, "--so-pin", "87654321");
        Files.writeString(tmp.resolve("pin"), PIN + "\n");
    }

    /** Puts {@code who}'s key and certificate in the token under the label "server", and its chain in certdir. */
    private void store(TestPki.Issued who) throws Exception {
        Path key = tmp.resolve("key.pk8");
        Files.writeString(key, TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(who.privateKey(), null)));
        Path der = tmp.resolve("cert.der");
        Files.write(der, who.cert().getEncoded());
        hsm("softhsm2-util", "--import", key.toString(), "--token", "rpc", "--label", "server", "--id", "01", "--pin", PIN);
        hsm("pkcs11-tool", "--module", MODULE, "--token-label", "rpc", "--login", "--pin", PIN, "--write-object", der.toString(),
                "--type", "cert", "--id", "01", "--label", "server");
        Files.createDirectories(tmp.resolve("certdir"));
        Files.writeString(tmp.resolve("certdir").resolve("cert.pem"), TestPki.pem(who.chain().toArray()));
        Files.deleteIfExists(key);
    }

    private void removeFromToken() throws Exception {
        for (String type : new String[] {"privkey", "pubkey", "cert"}) {
            hsm("pkcs11-tool", "--module", MODULE, "--token-label", "rpc", "--login", "--pin", PIN, "--delete-object", "--type", type,
                    "--label", "server");
        }
    }

    private String uri(String token, Path pin) {
        return "pkcs11:token=" + token + ";object=server?module-path=" + MODULE + "&pin-source=file:" + pin;
    }

    private List<String> daemon(String... more) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED"); // as the launcher runs it
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("org.rpctlsservd.daemon.Main");
        cmd.addAll(List.of("-D", tmp.resolve("certdir").toString(), "--no-rpcbind", "--pidfile", tmp.resolve("pid").toString(),
                "--rpc-socket", tmp.resolve("rpctlssd.sock").toString()));
        cmd.addAll(List.of(more));
        return cmd;
    }

    private Process start(Path log, List<String> cmd) throws IOException {
        return Commands.startLogged(cmd, log, java.util.Map.of("SOFTHSM2_CONF", tmp.resolve("softhsm2.conf").toString()));
    }

    private Commands.Result check(String uri) throws Exception {
        Path log = tmp.resolve("check.log");
        Process p = start(log, daemon("--key-uri", uri, "--check"));
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Commands.Result(p.exitValue(), Files.readString(log));
    }

    /** The subject of the certificate the front end served to a TLS client. */
    private static String servedSubject(int port, TestPki.Ca ca) throws Exception {
        try (Socket s = RawRpc.connect(port)) {
            SSLSocket ssl = FrontEndHarness.startTls(s, port, TlsHarness.jdkClient(null, ca, "TLSv1.3"), x -> { });
            RawRpc c = new RawRpc(ssl);
            c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, c.read().stat);
            return ((X509Certificate) ssl.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
        }
    }

    @Test
    void theDaemonSignsWithTheTokensKeyAndFollowsARotation() throws Exception {
        TestPki.Ca ca = TestPki.ca("Token CA");
        initToken();
        store(ca.leaf("first").dns("localhost").issue());
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path log = tmp.resolve("daemon.log");
        try (EchoBackend backend = new EchoBackend()) {
            Process d = start(log, daemon("-d", "--key-uri", uri("rpc", tmp.resolve("pin")), "--listen", "127.0.0.1:" + port,
                    "--backend", "127.0.0.1:" + backend.port()));
            try {
                Await.until(() -> read(log).contains("serving RPCTLSSD") || !d.isAlive(), "the daemon to start", 60);
                assertTrue(d.isAlive(), read(log));
                assertTrue(read(log).contains("pkcs11:token=rpc;object=server"), "the log names where the key is");
                assertEquals("O=rpc-tlsservd tests,CN=first", servedSubject(port, ca));

                removeFromToken();
                store(ca.leaf("second").dns("localhost").issue());
                assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(d.pid())).status());
                Await.until(() -> read(log).contains("reloaded the server certificate and key"), "the reload: " + read(log), 60);
                assertEquals("O=rpc-tlsservd tests,CN=second", servedSubject(port, ca), "the rotated key and certificate");
            } finally {
                Commands.stop(d);
            }
        }
    }

    @Test
    void aWrongPinOrTokenIsRefusedClearly() throws Exception {
        TestPki.Ca ca = TestPki.ca("Token CA");
        initToken();
        store(ca.leaf("first").dns("localhost").issue());
        assertEquals(0, check(uri("rpc", tmp.resolve("pin"))).status());
        Files.writeString(tmp.resolve("badpin"), "0000\n");
        Commands.Result badPin = check(uri("rpc", tmp.resolve("badpin")));
        assertEquals(1, badPin.status());
        assertTrue(badPin.output().startsWith("rpc.tlsservd: Can't create SSL context: cannot use the key in PKCS#11 slot "), badPin.output());
        assertTrue(badPin.output().contains("CKR_PIN_INCORRECT"), badPin.output());
        Commands.Result noToken = check(uri("nfs", tmp.resolve("pin")));
        assertEquals(1, noToken.status());
        assertTrue(noToken.output().startsWith("rpc.tlsservd: Can't create SSL context: no token labelled `nfs' in " + MODULE
                + "; there are `rpc' (slot "), noToken.output());
        Files.writeString(tmp.resolve("certdir").resolve("cert.pem"), TestPki.pem(ca.leaf("other").issue().chain().toArray()));
        Commands.Result mismatch = check(uri("rpc", tmp.resolve("pin")));
        assertEquals("rpc.tlsservd: Can't create SSL context: the private key does not match the certificate /CN=other/O=rpc-tlsservd tests\n",
                mismatch.output());
    }

    @Test
    void uriMistakesAreCaughtOnTheCommandLine() {
        assertEquals("the PKCS#11 URI needs module-path=/path/to/module.so",
                assertThrows(IllegalArgumentException.class, () -> TokenKey.parse("pkcs11:token=a;object=b?pin-value=1")).getMessage());
        assertEquals("the PKCS#11 URI needs token=LABEL or slot-id=N", assertThrows(IllegalArgumentException.class,
                () -> TokenKey.parse("pkcs11:object=b?module-path=/m.so&pin-value=1")).getMessage());
        assertEquals("pin-source must be file:/path, not `|/bin/pin'", assertThrows(IllegalArgumentException.class,
                () -> TokenKey.parse("pkcs11:token=a;object=b?module-path=/m.so&pin-source=|/bin/pin")).getMessage());
        assertEquals("pkcs11:token=a;object=b?module-path=/m.so&pin-value=***",
                TokenKey.parse("pkcs11:token=a;object=b?module-path=/m.so&pin-value=1234").redacted(), "no PIN in logs");
        assertEquals("not a PKCS#11 URI (pkcs11:...): `file:/etc/key.pem'",
                assertThrows(IllegalArgumentException.class, () -> TokenKey.parse("file:/etc/key.pem")).getMessage());
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
