package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.DatagramPacket;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.TestPki;

/**
 * The daemon run as a service, as a process: --version, --check beside a running daemon and on a
 * bad key pair, config-file errors, journal priority prefixes, and sd_notify readiness.
 */
class OperationsTest {
    @TempDir
    Path tmp;

    private static String[] cmd(String... args) {
        return ProcessTest.java(args).toArray(new String[0]);
    }

    /** A daemon's private files, so that tests never touch the system's pidfile or socket. */
    private List<String> own(String name, String... args) {
        List<String> a = new ArrayList<>(List.of("--pidfile", tmp.resolve(name + ".pid").toString(), "--rpc-socket",
                tmp.resolve(name + ".sock").toString(), "--no-rpcbind"));
        a.addAll(List.of(args));
        return a;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void versionPrintsTheProjectVersion() throws Exception {
        Commands.Result r = Commands.run(30, cmd("--version"));
        assertEquals(0, r.status());
        assertEquals("rpc.tlsservd " + System.getProperty("rpctlsservd.version") + "\n", r.output());
        assertFalse(r.output().contains("unknown"));
    }

    @Test
    void checkRunsBesideARunningDaemonAndTakesNothing() throws Exception {
        int port = freePort();
        List<String> args = own("d", "-d", "--throwaway-cert", "--listen", "127.0.0.1:" + port, "--backend", "127.0.0.1:111");
        Path log = tmp.resolve("d.log");
        Process d = Commands.startLogged(ProcessTest.java(args.toArray(new String[0])), log, Map.of());
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start", 30);
            String pid = ProcessTest.read(tmp.resolve("d.pid"));
            // The same options: a check that took the pidfile or bound the port would fail.
            List<String> check = new ArrayList<>(args);
            check.add("--check");
            Commands.Result r = Commands.run(30, cmd(check.toArray(new String[0])));
            assertEquals(0, r.status(), r.output());
            assertEquals("rpc.tlsservd: warning: --listen 127.0.0.1:" + port + ": in use, most likely by the rpc.tlsservd running with"
                    + " this pidfile (pid " + d.pid() + ", " + tmp.resolve("d.pid") + "); a start now fails\n"
                    + "rpc.tlsservd: configuration is valid\n", r.output(), "a port in use is a warning, naming the daemon");
            assertEquals(pid, ProcessTest.read(tmp.resolve("d.pid")), "the pidfile is the daemon's still");
            assertTrue(d.isAlive());
        } finally {
            Commands.stop(d);
        }
    }

    @Test
    void checkRefusesAMismatchedKeyPairWithTheStartsMessage() throws Exception {
        TestPki.Ca ca = TestPki.ca("Check CA");
        Path certs = tmp.resolve("certs");
        TestPki.writeServer(certs, ca.leaf("server").issue());
        Path other = tmp.resolve("other");
        TestPki.writeServer(other, ca.leaf("other").issue());
        Files.copy(other.resolve("certkey.pem"), certs.resolve("certkey.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        Commands.Result check = Commands.run(30, cmd(own("c", "-D", certs.toString(), "--check").toArray(new String[0])));
        Commands.Result start = Commands.run(30, cmd(own("c", "-d", "-D", certs.toString()).toArray(new String[0])));
        assertEquals(1, check.status(), check.output());
        assertEquals(1, start.status(), start.output());
        assertTrue(check.output().startsWith("rpc.tlsservd: " + certs.resolve("certkey.pem") + " (--certdir): the private key does not"
                + " match the certificate in " + certs.resolve("cert.pem") + " (/CN=server/"), check.output());
        assertEquals(start.output(), check.output(), "--check says what a start says");
        assertFalse(Files.exists(tmp.resolve("c.pid")), "neither took a pidfile");

        Commands.Result addr = Commands.run(30, cmd(own("a", "--throwaway-cert", "--listen", "192.0.2.1:2049", "--backend",
                "127.0.0.1:111", "--check").toArray(new String[0])));
        assertEquals(1, addr.status());
        assertEquals("rpc.tlsservd: --listen 192.0.2.1:2049: not an address of this host\n", addr.output());
    }

    @Test
    void anUnknownKeyExchangeGroupStopsTheStart() throws Exception {
        Commands.Result r = Commands.run(30, cmd(own("g", "-d", "--throwaway-cert", "--groups", "X25519MLKEM768:x25519kyber768")
                .toArray(new String[0])));
        assertEquals(1, r.status());
        assertTrue(r.output().startsWith("rpc.tlsservd: Can't create SSL context: SSL_CTX_set1_groups_list failed: unknown group "
                + "`x25519kyber768' (known: X25519MLKEM768:"), r.output());
        assertFalse(Files.exists(tmp.resolve("g.pid")));
    }

    @Test
    void configFileErrorsFromTheProcess() throws Exception {
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        Files.writeString(conf, "# comment\nthrowaway-cert\n\nmaxthreads = 0\n");
        Commands.Result bad = Commands.run(30, cmd("--config", conf.toString(), "--check"));
        Commands.Result same = Commands.run(30, cmd("-N", "0", "--check"));
        assertEquals(1, bad.status());
        assertEquals(same.output(), bad.output(), "a value from the file gets the command line's message");

        Files.writeString(conf, "throwaway-cert\nmaxthreads = 0\n");
        Commands.Result overridden = Commands.run(30, cmd(own("o", "--config", conf.toString(), "-N", "1", "--check")
                .toArray(new String[0])));
        assertEquals(0, overridden.status(), "the command line overrides the file: " + overridden.output());

        Files.writeString(conf, "throwaway-cert\ncertdirr = /etc\n");
        Commands.Result unknown = Commands.run(30, cmd("--config", conf.toString(), "--check"));
        assertEquals(1, unknown.status());
        assertEquals("rpc.tlsservd: " + conf + ":2: unknown option `certdirr'\n", unknown.output());

        Commands.Result missing = Commands.run(30, cmd("--config", tmp.resolve("none.conf").toString()));
        assertEquals(1, missing.status());
        assertEquals("rpc.tlsservd: " + tmp.resolve("none.conf") + " (--config): missing\n", missing.output());
    }

    @Test
    void onTheJournalLinesCarryPriorityPrefixesInsteadOfTimestamps() throws Exception {
        Path log = tmp.resolve("journal.log");
        Files.createFile(log);
        long dev = ((Number) Files.getAttribute(log, "unix:dev")).longValue();
        long ino = ((Number) Files.getAttribute(log, "unix:ino")).longValue();
        Process p = Commands.startLogged(ProcessTest.java(own("j", "-d", "--throwaway-cert").toArray(new String[0])), log,
                Map.of("JOURNAL_STREAM", dev + ":" + ino));
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start", 30);
        } finally {
            Commands.stop(p);
        }
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            assertTrue(line.matches("<[0-7]>\\S.*"), "journal line: " + line);
        }
        assertTrue(ProcessTest.read(log).contains("<6>serving RPCTLSSD"), ProcessTest.read(log));

        // Another file than the one named: plain lines with timestamps.
        assertFalse(Logging.isJournal(dev + ":" + (ino + 1), log));
        assertTrue(Logging.isJournal(dev + ":" + ino, log));
        assertFalse(Logging.isJournal(null, log));
    }

    @Test
    void systemdHearsReadyReloadingAndStopping() throws Exception {
        Path notify = tmp.resolve("notify.sock");
        try (AFUNIXDatagramSocket systemd = AFUNIXDatagramSocket.newInstance()) {
            systemd.bind(AFUNIXSocketAddress.of(notify));
            systemd.setSoTimeout(30_000);
            Path log = tmp.resolve("n.log");
            Process p = Commands.startLogged(ProcessTest.java(own("n", "-d", "--throwaway-cert").toArray(new String[0])), log,
                    Map.of("NOTIFY_SOCKET", notify.toString()));
            try {
                String ready = receive(systemd);
                assertTrue(ready.startsWith("READY=1\n"), ready);
                assertTrue(ready.contains("MAINPID=" + p.pid()), ready);
                assertTrue(ProcessTest.read(log).contains("serving RPCTLSSD"), "READY=1 comes once the service serves");

                assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(p.pid())).status());
                String reloading = receive(systemd);
                assertTrue(reloading.startsWith("RELOADING=1\nMONOTONIC_USEC="), reloading);
                assertTrue(receive(systemd).startsWith("READY=1"), "READY=1 again after the reload");

                p.destroy();
                assertEquals("STOPPING=1", receive(systemd));
                assertTrue(p.waitFor(20, TimeUnit.SECONDS));
                assertEquals(0, p.exitValue());
            } finally {
                p.destroyForcibly();
            }
        }
    }

    /**
     * --log-level in the --config file is applied by SIGHUP, as an administrator turning debug on
     * for a while expects: a record that is no RPC call is dropped with a debug line only once the
     * reload made the level debug, and without one again once a reload made it info.
     */
    @Test
    void aReloadAppliesTheLogLevelOfTheConfigFile() throws Exception {
        Path conf = tmp.resolve("level.conf");
        Files.writeString(conf, "log-level = info\n");
        Path log = tmp.resolve("level.log");
        Process p = Commands.startLogged(ProcessTest.java(own("level", "-d", "--throwaway-cert", "--config", conf.toString())
                .toArray(new String[0])), log, Map.of());
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon serving", 60);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("serving RPCTLSSD .* on 127\\.0\\.0\\.1 port (\\d+)")
                    .matcher(ProcessTest.read(log));
            assertTrue(m.find(), ProcessTest.read(log));
            int port = Integer.parseInt(m.group(1));
            String dropped = "dropped a 8-byte record";
            java.util.function.IntSupplier junk = () -> {
                try (java.net.Socket c = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
                    c.getOutputStream().write(new byte[] {(byte) 0x80, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}); // a whole record, no call
                    c.shutdownOutput();
                    c.setSoTimeout(30_000);
                    return c.getInputStream().read(); // the daemon closes it once it has dropped the record
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
            junk.getAsInt();
            assertFalse(ProcessTest.read(log).contains(dropped), "at info, no debug line: " + ProcessTest.read(log));

            for (String[] step : new String[][] {{"debug", "1"}, {"info", "1"}}) {
                Files.writeString(conf, "log-level = " + step[0] + "\n");
                assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(p.pid())).status());
                Await.until(() -> ProcessTest.read(log).contains("reloaded the log level: " + step[0]), "the reload to " + step[0], 30);
                junk.getAsInt();
                Await.until(() -> ProcessTest.read(log).split(dropped, -1).length - 1 >= Integer.parseInt(step[1]), "a debug line", 30);
            }
            assertEquals(1, ProcessTest.read(log).split(dropped, -1).length - 1, "debug lines only while at debug: " + ProcessTest.read(log));
            assertFalse(ProcessTest.read(log).contains("refused the configuration"), ProcessTest.read(log));
        } finally {
            p.destroy();
            p.waitFor(20, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    /**
     * "systemctl reload" as systemd runs the unit's ExecReload lines: in order, stopping at the first
     * that fails. The daemon's command (/usr/sbin/rpc.tlsservd) is this build's; the file is the test's.
     */
    private static int systemctlReload(Path conf, long mainPid) throws Exception {
        for (String line : Files.readAllLines(Path.of("src/main/dist/rpc-tlsservd.service"), StandardCharsets.UTF_8)) {
            if (!line.startsWith("ExecReload=")) {
                continue;
            }
            List<String> argv = new ArrayList<>();
            for (String word : line.substring("ExecReload=".length()).split(" ")) {
                switch (word) {
                    case "/usr/sbin/rpc.tlsservd": argv.addAll(ProcessTest.java()); break;
                    case "/etc/rpc.tlsservd/rpc.tlsservd.conf": argv.add(conf.toString()); break;
                    case "$MAINPID": argv.add(String.valueOf(mainPid)); break;
                    default: argv.add(word);
                }
            }
            int status = Commands.run(60, argv.toArray(new String[0])).status();
            if (status != 0) {
                return status;
            }
        }
        return 0;
    }

    @Test
    void systemctlReloadFailsAndSendsNothingWhenTheFileFailsItsCheck() throws Exception {
        TestPki.writeServer(tmp.resolve("certs"), TestPki.ca("Unit CA").leaf("server").issue());
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        String good = "certdir = " + tmp.resolve("certs") + "\nno-rpcbind\npidfile = " + tmp.resolve("u.pid")
                + "\nrpc-socket = " + tmp.resolve("u.sock") + "\n";
        Files.writeString(conf, good);
        Path log = tmp.resolve("u.log");
        Process p = Commands.startLogged(ProcessTest.java("-d", "--config", conf.toString()), log, Map.of()); // the unit's ExecStart
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start: " + ProcessTest.read(log), 30);
            String reloaded = "reloaded the server certificate and key";

            Files.writeString(conf, good.substring(0, good.length() - 3)); // cut short: no final newline
            assertEquals(1, systemctlReload(conf, p.pid()), "systemctl reload fails");
            Files.writeString(conf, "");
            assertEquals(1, systemctlReload(conf, p.pid()), "systemctl reload fails on an empty file");

            Files.writeString(conf, good + "handshake-timeout = 5\n"); // passes --check; the daemon refuses it, saying why
            assertEquals(0, systemctlReload(conf, p.pid()));
            Await.until(() -> ProcessTest.read(log).contains("reload: refused the configuration, keeping the old allow-lists and options:"
                    + " it changes handshake-timeout, which only a restart applies"), "the refusal: " + ProcessTest.read(log), 30);

            Files.writeString(conf, good);
            assertEquals(0, systemctlReload(conf, p.pid()));
            Await.until(() -> ProcessTest.read(log).split(reloaded, -1).length == 3, "a second reload", 30);
            assertEquals(1, ProcessTest.read(log).split("reload: refused", -1).length - 1,
                    "the two files that failed the check sent nothing: " + ProcessTest.read(log));
        } finally {
            Commands.stop(p);
        }
    }

    @Test
    void aScraperThatStallsIsClosed() throws Exception {
        int port = freePort();
        List<String> cmd = new ArrayList<>(ProcessTest.java(own("m", "-d", "--throwaway-cert", "--metrics", "127.0.0.1:" + port)
                .toArray(new String[0])));
        Path log = tmp.resolve("m.log");
        Process p = Commands.startLogged(cmd, log, Map.of());
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start", 30);
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write("GET /metrics HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII)); // and no more
                long t0 = System.nanoTime();
                assertEquals(-1, s.getInputStream().read(), "half a request is given up, not held");
                long waited = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
                assertTrue(waited >= 9 && waited < 19, "closed by the daemon's 10 s bound, after " + waited + " s");
            }
        } finally {
            Commands.stop(p);
        }
    }

    private static String receive(AFUNIXDatagramSocket s) throws Exception {
        byte[] b = new byte[4096];
        DatagramPacket p = new DatagramPacket(b, b.length);
        try {
            s.receive(p);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no notification within 30 s");
        }
        return new String(b, 0, p.getLength(), StandardCharsets.UTF_8);
    }
}
