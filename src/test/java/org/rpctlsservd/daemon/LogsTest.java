package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.UsageException;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The daemon's log as an administrator reads it, from the daemon as a process: one line per
 * handshake with its reasons in words, addresses as ip:port and [ipv6]:port, --log-level and
 * --syslog-facility.
 */
class LogsTest {
    static TestPki.Ca ca;
    static TestPki.Ca otherCa;
    static TestPki.Issued server;
    static TestPki.Issued good;
    /** A leaf of another CA, sent alone: no path to a CA the daemon trusts. */
    static TestPki.Issued stranger;
    static EchoBackend backend;

    @TempDir
    Path tmp;

    @BeforeAll
    static void pki() throws Exception {
        ca = TestPki.ca("Test CA");
        otherCa = TestPki.ca("Other CA");
        server = ca.leaf("server").dns("localhost").issue();
        good = ca.leaf("client").dns("localhost").issue();
        TestPki.Issued s = otherCa.leaf("stranger").dns("localhost").issue();
        stranger = new TestPki.Issued(s.cert(), s.keys(), List.of(s.cert()));
        backend = new EchoBackend();
    }

    @AfterAll
    static void stopBackend() throws Exception {
        backend.close();
    }

    private static int freePort(InetAddress on) throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, on)) {
            return s.getLocalPort();
        }
    }

    private static boolean ipv6Loopback() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    /** The daemon in the foreground (-d), its output in {@code log}; the front end on {@code listens}. */
    private Process daemon(Path log, List<String> listens, String... more) throws Exception {
        Path certs = tmp.resolve("certs");
        TestPki.writeServer(certs, server);
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        List<String> args = new ArrayList<>(List.of("-d", "-D", certs.toString(), "-m", "-l", caFile.toString(), "--no-rpcbind",
                "--pidfile", tmp.resolve("pid").toString(), "--rpc-socket", tmp.resolve("sock").toString(),
                "--backend", "127.0.0.1:" + backend.port()));
        for (String l : listens) {
            args.add("--listen");
            args.add(l);
        }
        args.addAll(List.of(more));
        return Commands.startLogged(ProcessTest.java(args.toArray(new String[0])), log, java.util.Map.of());
    }

    private static void awaitListening(Process p, Path log, String host, int port) {
        Await.until(() -> {
            if (!p.isAlive()) {
                return true;
            }
            try (Socket s = new Socket(host, port)) {
                return true;
            } catch (java.io.IOException e) {
                return false;
            }
        }, "the front end on " + host + ":" + port, 60);
        assertTrue(p.isAlive(), "the daemon runs: " + ProcessTest.read(log));
    }

    /** A TLS client through the front end at host:port; returns the client's socket (its local port names it in the log). */
    private static Socket tlsClient(String host, int port, TestPki.Issued cert, String protocol) throws Exception {
        Socket s = new Socket(host, port);
        SSLContext ctx = TlsHarness.jdkClient(cert, ca, protocol);
        try {
            SSLSocket ssl = FrontEndHarness.startTls(s, port, ctx, x -> {
                SSLParameters p = x.getSSLParameters();
                p.setProtocols(new String[] {protocol});
                x.setSSLParameters(p);
            });
            // one call, answered: the handshake and its audit line are behind it
            RawRpc r = new RawRpc(ssl);
            r.send(FrontEndHarness.whoami(7, FrontEndHarness.authNone()).bytes());
            r.read();
        } catch (SSLException | java.io.EOFException | java.net.SocketException e) {
            // refused: the daemon's line says why
        }
        return s;
    }

    /** The log's lines naming {@code address} (ip:port, nothing more to the port). */
    private static List<String> linesOf(String log, String address) {
        Pattern p = Pattern.compile(Pattern.quote(address) + "(?!\\d)");
        return log.lines().filter(l -> p.matcher(l).find()).toList();
    }

    @Test
    void oneLinePerHandshakeWithItsReasonsInWordsAndAddressesAsAnAdministratorWritesThem() throws Exception {
        boolean v6 = ipv6Loopback();
        int p4 = freePort(InetAddress.getByName("127.0.0.1"));
        int p6 = v6 ? freePort(InetAddress.getByName("::1")) : 0;
        Path log = tmp.resolve("d.log");
        List<String> listens = new ArrayList<>(List.of("127.0.0.1:" + p4));
        if (v6) {
            listens.add("[::1]:" + p6);
        }
        Process p = daemon(log, listens);
        try {
            awaitListening(p, log, "127.0.0.1", p4);
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to serve", 30);

            try (Socket wrongCa = tlsClient("127.0.0.1", p4, stranger, "TLSv1.3")) {
                String me = "127.0.0.1:" + wrongCa.getLocalPort();
                Await.until(() -> !linesOf(ProcessTest.read(log), me).isEmpty(), "the line for " + me, 30);
                List<String> lines = linesOf(ProcessTest.read(log), me);
                assertEquals(1, lines.size(), "one line for the client: " + ProcessTest.read(log));
                String line = lines.get(0);
                assertTrue(line.contains(" INFO handshake peer=" + me + " "), line);
                assertTrue(line.contains(" result=unverified ") && !line.contains("result=ok"), line);
                assertTrue(line.contains(" flags=0x03(handshake,gotcert) uid=- reason=\"certificate not verified: no path to a CA trusted"
                        + " here (verifylocs/verifydir) (issuer /CN=Other CA/O=rpc-tlsservd tests)\""), line);
            }

            // a handshake that fails (TLS 1.2 without -2): its line, and no second one from the front end
            try (Socket old = tlsClient("127.0.0.1", p4, good, "TLSv1.2")) {
                String me = "127.0.0.1:" + old.getLocalPort();
                Await.until(() -> linesOf(ProcessTest.read(log), me).stream().anyMatch(l -> l.contains("result=failed")),
                        "the failed handshake's line", 30);
                // a handshake after it, logged: the front end has had the failed one's answer by then
                try (Socket next = tlsClient("127.0.0.1", p4, good, "TLSv1.3")) {
                    Await.until(() -> !linesOf(ProcessTest.read(log), "127.0.0.1:" + next.getLocalPort()).isEmpty(), "the next line", 30);
                }
                List<String> lines = linesOf(ProcessTest.read(log), me);
                assertEquals(1, lines.size(), lines.toString());
                assertTrue(lines.get(0).contains(" result=failed cert=none reason=\"sent protocol_version(70): the client offers no TLS"
                        + " version served here (1.3; 1.2 too with -2)\" ms="), lines.get(0));
            }

            if (v6) {
                try (Socket six = tlsClient("::1", p6, good, "TLSv1.3")) {
                    String me = "[::1]:" + six.getLocalPort();
                    try {
                        Await.until(() -> !linesOf(ProcessTest.read(log), me).isEmpty(), "the line for " + me, 30);
                    } catch (AssertionError e) {
                        throw new AssertionError(e.getMessage() + ": " + ProcessTest.read(log));
                    }
                    String line = linesOf(ProcessTest.read(log), me).get(0);
                    assertTrue(line.contains("handshake peer=" + me + " ") && line.contains(" result=ok "), line);
                    assertTrue(line.contains(" flags=0x0b(handshake,gotcert,verified) uid=- ms="), line);
                }
                assertTrue(ProcessTest.read(log).contains("front end: RPC-over-TLS on [::1]:" + p6 + ", relaying to 127.0.0.1:"
                        + backend.port() + " "), ProcessTest.read(log));
            }
            String all = ProcessTest.read(log);
            assertTrue(all.contains("front end: RPC-over-TLS on 127.0.0.1:" + p4 + ", relaying to 127.0.0.1:" + backend.port()), all);
            assertFalse(all.contains("/127.0.0.1") || all.contains("0:0:0:0:0:0:0:1"), "no address in Java's form: " + all);
            assertFalse(all.contains("accept_stat") || all.contains("upcall failed") || all.contains(": null"), all);
            assertFalse(all.contains(" FINE "), "no debug lines without -v: " + all);
        } finally {
            Commands.stop(p);
        }
    }

    @Test
    void logLevelWarningHidesTheHandshakeLinesAndDebugAddsTheDaemonsDetail() throws Exception {
        int port = freePort(InetAddress.getByName("127.0.0.1"));
        Path quiet = tmp.resolve("warning.log");
        Process p = daemon(quiet, List.of("127.0.0.1:" + port), "--require", "cert", "--log-level", "warning", "-v");
        try {
            awaitListening(p, quiet, "127.0.0.1", port);
            try (Socket ok = tlsClient("127.0.0.1", port, good, "TLSv1.3"); Socket refused = tlsClient("127.0.0.1", port, stranger, "TLSv1.3")) {
                String me = "127.0.0.1:" + refused.getLocalPort();
                // the stranger's call is refused at WARNING: that line comes, the INFO handshake lines do not
                Await.until(() -> ProcessTest.read(quiet).contains("front end " + me + ": refused"), "the refusal's warning", 30);
                String all = ProcessTest.read(quiet);
                assertFalse(all.contains("handshake peer="), "--log-level warning (over -v): no handshake lines: " + all);
                assertFalse(all.contains(" INFO ") || all.contains(" FINE "), all);
                assertTrue(all.contains(" WARNING front end " + me + ": refused program "), all);
            }
        } finally {
            Commands.stop(p);
        }

        int port2 = freePort(InetAddress.getByName("127.0.0.1"));
        Path debug = tmp.resolve("debug.log");
        p = daemon(debug, List.of("127.0.0.1:" + port2), "--log-level", "debug");
        try {
            awaitListening(p, debug, "127.0.0.1", port2);
            try (Socket wrongCa = tlsClient("127.0.0.1", port2, stranger, "TLSv1.3")) {
                Await.until(() -> ProcessTest.read(debug).contains("peer=127.0.0.1:" + wrongCa.getLocalPort()), "the handshake line", 30);
                String all = ProcessTest.read(debug);
                assertTrue(all.contains(" FINE rpctls_server: client IP 127.0.0.1 issuerName=/CN=Other CA/O=rpc-tlsservd tests"), all);
                assertTrue(all.contains(" FINE rpctlssd_connect_svc: succeeded flags=0x3"), all);
            }
        } finally {
            Commands.stop(p);
        }
    }

    @Test
    void debugIsTheDaemonsOwnDetailNotTheLibraries() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            Logging.configure(Level.FINE, Logging.Style.PLAIN, 3, new PrintStream(out, true, StandardCharsets.UTF_8));
            Logger.getLogger("rpctlssd").fine("own detail");
            Logger.getLogger("org.rpctlsservd.rpc.StreamRpcServer").fine("own class detail");
            for (String library : List.of("org.bouncycastle.jsse.provider.ProvTlsServer", "org.acplt.oncrpc.server.OncRpcTcpServerTransport",
                    "org.newsclub.net.unix.AFSocket", "sun.net.www.protocol.http.HttpURLConnection", "javax.management.mbeanserver")) {
                Logger.getLogger(library).fine("library noise from " + library);
                Logger.getLogger(library).info("library info from " + library);
                Logger.getLogger(library).warning("library warning from " + library);
            }
            String text = out.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains(" FINE own detail") && text.contains(" FINE own class detail"), text);
            assertFalse(text.contains("library noise") || text.contains("library info"), text);
            assertEquals(5, text.lines().filter(l -> l.contains("WARNING library warning from")).count(), text);

            out.reset();
            Logging.configure(Level.SEVERE, Logging.Style.PLAIN, 3, new PrintStream(out, true, StandardCharsets.UTF_8));
            Logger.getLogger("rpctlssd").warning("own warning");
            Logger.getLogger("org.acplt.oncrpc").warning("library warning");
            Logger.getLogger("rpctlssd").severe("own error");
            text = out.toString(StandardCharsets.UTF_8);
            assertEquals(1, text.lines().count(), "--log-level error: errors only: " + text);
            assertTrue(text.contains(" SEVERE own error"), text);
        } finally {
            LogManager.getLogManager().readConfiguration();
            for (String own : Logging.OWN) {
                Logger.getLogger(own).setLevel(null);
            }
        }
    }

    @Test
    void theSyslogFacilityIsThePrefixOfADetachedDaemonsLines() throws Exception {
        Cli cli = new Cli("rpc.tlsservd", 2, "nfs.example.org", h -> null);
        int local3 = cli.parse(new String[] {"--syslog-facility", "local3"}).syslogFacility();
        assertEquals(19, local3);
        assertEquals(3, cli.parse(new String[0]).syslogFacility(), "daemon by default, as the C daemon's openlog");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            Logging.configure(Level.INFO, Logging.Style.SYSLOG, local3, new PrintStream(out, true, StandardCharsets.UTF_8));
            Logger.getLogger("rpctlssd").info("handshake peer=192.0.2.1:812");
            Logger.getLogger("rpctlssd").warning("front end 192.0.2.1:812: refused");
            Logger.getLogger("rpctlssd").severe("cannot listen");
            assertEquals("<158>handshake peer=192.0.2.1:812\n<156>front end 192.0.2.1:812: refused\n<155>cannot listen\n",
                    out.toString(StandardCharsets.UTF_8));
        } finally {
            LogManager.getLogManager().readConfiguration();
            for (String own : Logging.OWN) {
                Logger.getLogger(own).setLevel(null);
            }
        }
        UsageException e = assertThrows(UsageException.class, () -> cli.parse(new String[] {"--syslog-facility", "local9"}));
        assertTrue(e.getMessage().startsWith("rpc.tlsservd: --syslog-facility takes a syslog facility (user, mail, daemon, auth, "),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("), not `local9'"), e.getMessage());
        UsageException level = assertThrows(UsageException.class, () -> cli.parse(new String[] {"--log-level", "verbose"}));
        assertEquals("rpc.tlsservd: --log-level takes error, warning, info or debug, not `verbose'", level.getMessage());
        assertEquals(Level.FINE, cli.parse(new String[] {"-v"}).logLevel(), "-v is debug");
        assertEquals(Level.INFO, cli.parse(new String[] {"-v", "--log-level", "info"}).logLevel(), "--log-level wins over -v");

        // and from the process: refused with the usage error, before anything starts
        Commands.Result r = Commands.run(30, ProcessTest.java("--syslog-facility", "bogus").toArray(new String[0]));
        assertEquals(1, r.status(), r.output());
        assertTrue(r.output().contains("--syslog-facility takes a syslog facility") && r.output().contains("not `bogus'"), r.output());
    }
}
