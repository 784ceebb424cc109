package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.TestPki;

/**
 * --check on real files in a temporary directory: every error names the file, the option that
 * named it and the reason; warnings (a key others can read, a certificate about to expire, a chain
 * the client CAs do not reach, a port in use) leave the status 0. A start refuses with the same lines.
 */
class CheckTest {
    @TempDir
    Path tmp;

    record Result(int status, String out, String err) {
    }

    /** Main's --check in this JVM (it never touches signals); the daemon's files are the test's. */
    private Result check(String... args) {
        List<String> a = new ArrayList<>(List.of("--pidfile", tmp.resolve("c.pid").toString(), "--rpc-socket",
                tmp.resolve("c.sock").toString(), "--no-rpcbind", "--check"));
        a.addAll(List.of(args));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(a.toArray(new String[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), null);
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A check that fails with exactly {@code line}. */
    private void refused(String line, String... args) {
        Result r = check(args);
        assertEquals(1, r.status(), r.toString());
        assertEquals("rpc.tlsservd: " + line + "\n", r.err());
        assertEquals("", r.out());
    }

    private Path certdir(String name) throws Exception {
        Path d = tmp.resolve(name);
        TestPki.writeServer(d, TestPki.ca("Check CA").leaf("server").issue());
        Files.setPosixFilePermissions(d.resolve("certkey.pem"), PosixFilePermissions.fromString("rw-------"));
        return d;
    }

    /** Warnings only, no error: the lines after "warning: ". */
    private List<String> warnings(String... args) {
        Result r = check(args);
        assertEquals(0, r.status(), r.toString());
        assertEquals("rpc.tlsservd: configuration is valid\n", r.out());
        List<String> w = new ArrayList<>();
        for (String line : r.err().lines().toList()) {
            assertTrue(line.startsWith("rpc.tlsservd: warning: "), line);
            w.add(line.substring("rpc.tlsservd: warning: ".length()));
        }
        return w;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aCertdirWithNothingInItSaysWhatToDoInOneLine() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        refused(empty.resolve("cert.pem") + " (--certdir): missing, and so is certkey.pem; make or install the server certificate"
                + " (see rpc.tlsservd.conf(5))", "-D", empty.toString());
    }

    @Test
    void eachFileOfTheCertdirIsNamedWithItsReason() throws Exception {
        Path d = certdir("d");
        Path cert = d.resolve("cert.pem");
        Path key = d.resolve("certkey.pem");
        String certText = Files.readString(cert);
        String keyText = Files.readString(key);
        String D = d.toString();

        Files.delete(cert);
        refused(cert + " (--certdir): missing; make or install the server certificate (see rpc.tlsservd.conf(5))", "-D", D);
        Files.createDirectory(cert);
        refused(cert + " (--certdir): a directory, not a file", "-D", D);
        Files.delete(cert);
        Files.writeString(cert, "");
        refused(cert + " (--certdir): empty", "-D", D);
        Files.writeString(cert, "this is no certificate\n");
        refused(cert + " (--certdir): not PEM (no -----BEGIN line)", "-D", D);
        Files.write(cert, TestPki.ca("DER CA").cert().getEncoded());
        refused(cert + " (--certdir): not PEM (no -----BEGIN line); it looks like DER: convert it with openssl x509 -inform der"
                + " (or openssl pkey -inform der)", "-D", D);
        Files.writeString(cert, keyText);
        refused(cert + " (--certdir): no certificate in it (it holds a private key)", "-D", D);
        Files.writeString(cert, certText);

        Files.delete(key);
        refused(key + " (--certdir): missing; install the private key of " + cert, "-D", D);
        Files.writeString(key, keyText.substring(0, keyText.length() / 2));
        refused(key + " (--certdir): truncated or damaged PEM (-----END PRIVATE KEY----- not found)", "-D", D);
        Files.writeString(key, certText);
        refused(key + " (--certdir): no private key in it (it holds 2 certificates)", "-D", D);
        Files.writeString(key, Files.readString(certdir("other").resolve("certkey.pem")));
        Result mismatch = check("-D", D);
        assertEquals(1, mismatch.status());
        assertTrue(mismatch.err().startsWith("rpc.tlsservd: " + key + " (--certdir): the private key does not match the certificate in "
                + cert + " (/CN=server/O=rpc-tlsservd tests)"), mismatch.err());
    }

    @Test
    void encryptedKeysAndTheirPassphraseFile() throws Exception {
        Path d = certdir("enc");
        Path key = d.resolve("certkey.pem");
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, "correct horse\n");
        Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-------"));
        Commands.Result enc = Commands.run(30, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "file:" + pass,
                "-in", key.toString(), "-out", tmp.resolve("enc.pem").toString());
        assertEquals(0, enc.status(), enc.output());
        Files.move(tmp.resolve("enc.pem"), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        refused(key + " (--certdir): the private key is encrypted and no --key-passphrase-file gives its passphrase", "-D", d.toString());
        assertEquals(List.of(), warnings("-D", d.toString(), "--key-passphrase-file", pass.toString(), "--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:111"));
        Path none = tmp.resolve("no-passphrase");
        refused(none + " (--key-passphrase-file): missing", "-D", d.toString(), "--key-passphrase-file", none.toString());
        Files.writeString(none, "battery staple\n");
        refused(key + " (--certdir): cannot decrypt the private key (wrong passphrase in --key-passphrase-file?)",
                "-D", d.toString(), "--key-passphrase-file", none.toString());
    }

    @Test
    void clientCaFilesAndTheCrl() throws Exception {
        TestPki.Ca ca = TestPki.ca("Client CA");
        Path d = certdir("m");
        Path caFile = tmp.resolve("ca.pem");
        Files.writeString(caFile, TestPki.pem(ca.cert()));
        Path crl = tmp.resolve("crl.pem");
        String D = d.toString();

        Path none = tmp.resolve("none.pem");
        refused(none + " (--verifylocs): missing", "-D", D, "-m", "-l", none.toString());
        Files.writeString(none, TestPki.pem(ca.crl()));
        refused(none + " (--verifylocs): no certificate in it (it holds a CRL)", "-D", D, "-m", "-l", none.toString());
        refused(tmp.resolve("nodir") + " (--verifydir): missing", "-D", D, "-m", "-p", tmp.resolve("nodir").toString());
        refused(caFile + " (--verifydir): not a directory", "-D", D, "-m", "-p", caFile.toString());
        Path hashed = Files.createDirectories(tmp.resolve("hashed"));
        Files.writeString(hashed.resolve("0badc0de.0"), "-----BEGIN CERTIFICATE-----\nAAAA\n");
        refused(hashed.resolve("0badc0de.0") + " (--verifydir): truncated or damaged PEM (-----END CERTIFICATE----- not found)",
                "-D", D, "-m", "-p", hashed.toString());

        Files.writeString(crl, "-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n");
        Result bad = check("-D", D, "-m", "-l", caFile.toString(), "-r", crl.toString());
        assertEquals(1, bad.status());
        assertTrue(bad.err().startsWith("rpc.tlsservd: " + crl + " (--crl): truncated or damaged PEM ("), bad.err());
        Files.writeString(crl, TestPki.pem(ca.cert()));
        refused(crl + " (--crl): no CRL in it (it holds a certificate)", "-D", D, "-m", "-l", caFile.toString(), "-r", crl.toString());

        // The server's certificate is from "Check CA", not the client CA: clients that trust only that one refuse it.
        Files.writeString(crl, TestPki.pem(ca.crl()));
        List<String> w = warnings("-D", D, "-m", "-l", caFile.toString(), "-r", crl.toString(), "--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:111");
        assertEquals(1, w.size(), w.toString());
        assertTrue(w.get(0).startsWith(d.resolve("cert.pem") + " (--certdir): the server's chain does not reach a CA of --verifylocs "
                + caFile + " ("), w.get(0));
        assertTrue(w.get(0).endsWith("); clients that trust only those CAs refuse this server"), w.get(0));

        // A server certificate from the client CA: no warning.
        Path same = tmp.resolve("same");
        TestPki.writeServer(same, ca.leaf("server").issue());
        Files.setPosixFilePermissions(same.resolve("certkey.pem"), PosixFilePermissions.fromString("rw-------"));
        assertEquals(List.of(), warnings("-D", same.toString(), "-m", "-l", caFile.toString(), "--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:111"));
    }

    @Test
    void theConfigFileItself() throws Exception {
        Path conf = tmp.resolve("rpc.tlsservd.conf");
        refused(conf + " (--config): missing", "--config", conf.toString());
        Files.createDirectory(conf);
        refused(conf + " (--config): a directory, not a file", "--config", conf.toString());
    }

    @Test
    void secretsOthersCanReadAreWarnedOfWithTheFix() throws Exception {
        Path d = certdir("modes");
        Path key = d.resolve("certkey.pem");
        String[] args = {"-D", d.toString(), "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:111"};
        assertEquals(List.of(), warnings(args), "0600: nothing to say");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-rw-rw-"));
        String fix = "chmod 0600 " + key + (userExists("_rpc-tlsservd") ? " and chown _rpc-tlsservd " + key : "");
        assertEquals(List.of(key + " (--certdir): the private key is readable by group and others (mode 0666); " + fix), warnings(args));
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r-----"));
        assertEquals(List.of(key + " (--certdir): the private key is readable by group (mode 0640); " + fix), warnings(args));
    }

    private static boolean userExists(String name) throws Exception {
        return Commands.run(10, "getent", "passwd", name).status() == 0;
    }

    @Test
    void certificateDates() throws Exception {
        Path d = certdir("dates");
        Path cert = d.resolve("cert.pem");
        var config = Cli.forThisHost("rpc.tlsservd").parse(new String[] {"-D", d.toString(), "--no-rpcbind", "--rpc-socket",
            tmp.resolve("s.sock").toString(), "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:111"});
        Instant notAfter = org.rpctlsservd.certs.Pem.certificates(cert, "--certdir").get(0).getNotAfter().toInstant();
        String leaf = cert + " (--certdir): the certificate (/CN=server/O=rpc-tlsservd tests) ";

        assertEquals(List.of(), Preflight.check(config, notAfter.minus(Duration.ofDays(31))));
        // The chain's CA certificate, made a moment before, expires with it: each is named.
        List<String> soon = Preflight.check(config, notAfter.minus(Duration.ofDays(9)).minusSeconds(60));
        assertEquals(leaf + "expires on " + utc(notAfter) + ", in 9 days; renew it", soon.get(0));
        assertEquals(2, soon.size(), soon.toString());
        assertTrue(soon.get(1).startsWith(cert + " (--certdir): the chain's certificate 2 (/CN=Check CA/O=rpc-tlsservd tests) expires on "),
                soon.get(1));
        String expired = org.junit.jupiter.api.Assertions.assertThrows(Preflight.Refused.class,
                () -> Preflight.check(config, notAfter.plusSeconds(1))).getMessage();
        assertEquals(leaf + "expired on " + utc(notAfter) + "; renew it", expired);

        Instant notBefore = org.rpctlsservd.certs.Pem.certificates(cert, "--certdir").get(0).getNotBefore().toInstant();
        assertEquals(leaf + "is not valid before " + utc(notBefore) + "; clients refuse it until then (or this host's clock is wrong)",
                Preflight.check(config, notBefore.minusSeconds(60)).get(0));
    }

    private static String utc(Instant t) {
        return java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(java.time.ZoneOffset.UTC).format(t);
    }

    @Test
    void nothingToServeOnLinuxIsOneWarning() throws Exception {
        Path d = certdir("nothing");
        List<String> w = warnings("-D", d.toString());
        if ("Linux".equals(System.getProperty("os.name"))) {
            assertEquals(List.of("no --listen or --relay: the daemon serves only the RPCTLSSD upcall program, which only FreeBSD's"
                    + " kernel calls; to put TLS in front of an NFS server, see the example in /etc/rpc.tlsservd/rpc.tlsservd.conf"), w);
        } else {
            assertEquals(List.of(), w);
        }
    }

    @Test
    void aPortInUseIsAWarningNamingWhoHoldsIt() throws Exception {
        Path d = certdir("ports");
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            int metrics = freePort();
            List<String> w = warnings("-D", d.toString(), "--listen", "127.0.0.1:" + port, "--backend", "127.0.0.1:111",
                    "--metrics", "127.0.0.1:" + metrics);
            assertEquals(List.of("--listen 127.0.0.1:" + port + ": in use, by another program (ss -ltnp 'sport = :" + port
                    + "' names it); a start now fails"), w);
        }
    }

    /** rpc.tlsclntd's --check: its TLS files refused with the start's line, its addresses warned of, nothing started. */
    @Test
    void theClientChecksItsFilesAndAddresses() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            String[] base = {"--pidfile", tmp.resolve("cl.pid").toString(), "--rpc-socket", tmp.resolve("cl.sock").toString(),
                "--no-rpcbind", "--check"};
            Path ca = tmp.resolve("ca.pem");
            Files.writeString(ca, TestPki.pem(TestPki.ca("Client CA").cert()));
            Result ok = client(base, "-l", ca.toString(), "--connect", "127.0.0.1:" + port + ",nfs.example.org:2049");
            assertEquals(0, ok.status(), ok.toString());
            assertEquals("rpc.tlsclntd: configuration is valid\n", ok.out());
            assertEquals("rpc.tlsclntd: warning: --connect 127.0.0.1:" + port + ": in use, by another program (ss -ltnp 'sport = :"
                    + port + "' names it); a start now fails\n", ok.err());
            // what a start would do unsafely is said too
            Result unsafe = client(base, "--allow-plain", "--connect", "0.0.0.0:0,nfs.example.org:2049");
            assertEquals(0, unsafe.status(), unsafe.toString());
            assertEquals(List.of("rpc.tlsclntd: warning: --connect 0.0.0.0:0: plain RPC beyond this host: whoever reaches it reaches"
                    + " nfs.example.org over TLS; listen on loopback unless that network is trusted",
                    "rpc.tlsclntd: warning: no -l or -p: the servers' certificates are not checked, so anyone on the path can pose as a server"),
                    List.of(unsafe.err().split("\n")));
            Result downgrade = client(base, "-l", ca.toString(), "--allow-plain", "--connect", "127.0.0.1:0,nfs.example.org:2049");
            assertEquals("rpc.tlsclntd: warning: --allow-plain: anyone on the path who answers the STARTTLS probe without STARTTLS"
                    + " turns TLS off for that connection, whatever -l or -p check\n", downgrade.err());
            Result bad = client(base, "-l", tmp.resolve("missing.pem").toString(), "--connect", "127.0.0.1:0,nfs.example.org:2049");
            assertEquals(1, bad.status(), bad.toString());
            assertEquals("rpc.tlsclntd: " + tmp.resolve("missing.pem") + " (--verifylocs): missing\n", bad.err());
            assertFalse(Files.exists(tmp.resolve("cl.pid")), "a check takes no pidfile");
        }
    }

    private Result client(String[] base, String... args) {
        List<String> a = new ArrayList<>(List.of(base));
        a.addAll(List.of(args));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(a.toArray(new String[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), null, ClientMain.CLIENT);
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** With --no-pidfile there is no pidfile to ask who holds the port: the warning says so instead of failing. */
    @Test
    void aPortInUseWithoutAPidfileIsStillAWarning() throws Exception {
        Path d = certdir("ports-nopid");
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            List<String> w = warnings("-D", d.toString(), "--no-pidfile", "--listen", "127.0.0.1:" + port, "--backend", "127.0.0.1:111");
            assertEquals(List.of("--listen 127.0.0.1:" + port + ": in use, by another program, or a daemon run with --no-pidfile"
                    + " (ss -ltnp 'sport = :" + port + "' names it); a start now fails"), w);
        }
    }

    /** A start (the real process) refuses with --check's own line, before it takes the pidfile. */
    @Test
    void aStartRefusesWithTheSameLine() throws Exception {
        Path d = certdir("start");
        Files.delete(d.resolve("certkey.pem"));
        String[] args = {"--pidfile", tmp.resolve("s.pid").toString(), "--rpc-socket", tmp.resolve("s.sock").toString(), "--no-rpcbind",
            "-d", "-D", d.toString(), "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:111"};
        Commands.Result start = Commands.run(30, ProcessTest.java(args).toArray(new String[0]));
        assertEquals(1, start.status());
        String line = d.resolve("certkey.pem") + " (--certdir): missing; install the private key of " + d.resolve("cert.pem");
        assertEquals("rpc.tlsservd: " + line + "\n", start.output());
        assertTrue(!Files.exists(tmp.resolve("s.pid")), "no pidfile taken");
        refused(line, "-D", d.toString(), "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:111");
    }

    /** Root reads any file: the check runs as root without the capabilities that let it (setpriv). */
    @Test
    void aFileTheDaemonsUserCannotReadIsUnreadableNotMissing() throws Exception {
        Path d = certdir("unreadable");
        Path key = d.resolve("certkey.pem");
        Files.setAttribute(key, "unix:uid", 65534);
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"));
        cmd.addAll(ProcessTest.java("--pidfile", tmp.resolve("u.pid").toString(), "--rpc-socket", tmp.resolve("u.sock").toString(),
                "--no-rpcbind", "-D", d.toString(), "--check"));
        Commands.Result r = Commands.run(60, cmd.toArray(new String[0]));
        assertEquals(1, r.status(), r.output());
        assertEquals("rpc.tlsservd: " + key + " (--certdir): unreadable (permission denied to user " + System.getProperty("user.name")
                + ")\n", r.output());
    }
}
