package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/** The RFC 9289 front end: the probe, the policy levels, DISABLED, and relaying to a plain backend. */
class FrontEndTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("FE CA");
    static final TestPki.Ca ca = FX.ca;
    static final TestPki.Issued good = FX.client;

    @TempDir
    Path tmp;

    private FrontEndHarness fe(String... args) throws Exception {
        return FX.frontEnd(tmp, args);
    }

    static SSLContext client(TestPki.Issued cert) throws Exception {
        return TlsHarness.jdkClient(cert, ca, "TLSv1.3");
    }

    static void assertAuthError(RawRpc.Reply r, int authStat) {
        assertEquals(1, r.replyStat, r.toString());
        assertEquals(1, r.stat, r.toString());
        assertEquals(authStat, r.authStat, r.toString());
    }

    static void assertSuccess(RawRpc.Reply r) {
        assertEquals(0, r.replyStat, r.toString());
        assertEquals(0, r.stat, r.toString());
    }

    /** Waits until the front end and the daemon hold nothing for any client. */
    static void assertNothingLeft(FrontEndHarness h) {
        Await.until(() -> h.daemon.frontEnd().connectionCount() == 0, "no front-end connection left");
        Await.until(() -> h.daemon.sessions().size() == 0, "no session left");
        assertEquals(0, h.daemon.handoff().size(), "no parked socket left");
        assertEquals(h.daemon.frontEnd().stats().handshakes(), h.daemon.frontEnd().stats().disconnects(), "a DISCONNECT for every handshake");
    }

    @Test
    void probeReplyByteForByte() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc c = h.plain()) {
            c.send(FrontEndHarness.probe(0x01020304));
            byte[] reply = c.readRecord();
            byte[] expected = ByteBuffer.allocate(32).putInt(0x01020304).putInt(1).putInt(0).putInt(0).putInt(8)
                    .put("STARTTLS".getBytes()).putInt(0).array();
            assertArrayEquals(expected, reply);
        }
    }

    @Test
    void aClientThatSendsMoreWithItsProbeIsClosedUnanswered() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc c = h.plain()) {
            // RFC 9289: the client waits for the STARTTLS reply before its ClientHello; one that does not
            // (here a call behind the probe in the same write) would have its bytes taken for TLS or relayed
            byte[] probe = FrontEndHarness.probe(5);
            byte[] call = RawRpc.call().xid(6).prog(100000).vers(2).proc(0).bytes();
            ByteBuffer both = ByteBuffer.allocate(8 + probe.length + call.length);
            both.putInt(0x80000000 | probe.length).put(probe).putInt(0x80000000 | call.length).put(call);
            c.sendRaw(both.array());
            assertTrue(c.closedByServer(), "closed, the probe unanswered");
        }
    }

    @Test
    void badProbesGetBadCred() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc c = h.plain()) {
            c.send(RawRpc.call().xid(1).proc(1).prog(100000).vers(2).credRaw(RawRpc.opaqueAuth(7, new byte[0])).bytes());
            assertAuthError(c.read(), 1);
            c.send(RawRpc.call().xid(2).prog(100000).vers(2).credRaw(RawRpc.opaqueAuth(7, new byte[4])).bytes());
            assertAuthError(c.read(), 1);
            c.send(RawRpc.call().xid(3).prog(100000).vers(2).credRaw(RawRpc.opaqueAuth(7, new byte[0]))
                    .verfRaw(RawRpc.opaqueAuth(1, new byte[0])).bytes());
            assertAuthError(c.read(), 1);
            // still plain RPC after bad probes
            c.send(FrontEndHarness.whoami(4, FrontEndHarness.authNone()).bytes());
            assertSuccess(c.read());
        }
        try (FrontEndHarness h = FX.frontEnd(tmp.resolve("2")); RawRpc t = h.tls(client(null))) {
            t.send(FrontEndHarness.probe(5));
            assertAuthError(t.read(), 1);
        }
    }

    @Test
    void listensOnSeveralAddressesIpv6Too() throws Exception {
        TestPki.writeServer(tmp.resolve("server"), FX.server);
        org.rpctlsservd.cli.Config c = new org.rpctlsservd.cli.Cli("rpc.tlsservd", 2, "h.example.org", x -> null).parse(new String[] {
            "-D", tmp.resolve("server").toString(), "--pidfile", tmp.resolve("pid").toString(), "--no-rpcbind",
            "--rpc-socket", tmp.resolve("s.sock").toString(), "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--backend", "127.0.0.1:" + FX.backend().port()});
        try (org.rpctlsservd.daemon.Daemon d = org.rpctlsservd.daemon.Daemon.start(c)) {
            java.util.List<java.net.InetSocketAddress> a = d.frontEnd().addresses();
            assertEquals(2, a.size());
            java.net.InetSocketAddress v6 = a.get(1);
            assertTrue(v6.getAddress() instanceof java.net.Inet6Address, v6.toString());
            try (Socket s = new Socket(v6.getAddress(), v6.getPort()); RawRpc r = new RawRpc(s)) {
                r.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                assertSuccess(r.read());
            }
        }
    }

    @Test
    void connectionsAreSpreadOverTheEventLoops() throws Exception {
        try (FrontEndHarness h = fe("--io-threads", "3")) {
            assertEquals(3, h.daemon.frontEnd().loopCount());
            java.util.List<RawRpc> clients = new java.util.ArrayList<>();
            for (int i = 0; i < 6; i++) {
                clients.add(i % 2 == 0 ? h.plain() : h.tls(client(good)));
            }
            for (int i = 0; i < clients.size(); i++) {
                clients.get(i).send(FrontEndHarness.whoami(100 + i, FrontEndHarness.authNone()).bytes());
            }
            for (int i = 0; i < clients.size(); i++) {
                RawRpc.Reply r = clients.get(i).read();
                assertEquals(100 + i, r.xid);
                assertSuccess(r);
            }
            java.util.Set<String> loops = new java.util.TreeSet<>();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("frontend-io")) {
                    loops.add(t.getName());
                }
            }
            assertEquals(java.util.Set.of("frontend-io-1", "frontend-io-2", "frontend-io-3"), loops);
        }
    }

    @Test
    void plainClientsAreRelayedWithRequireNone() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc c = h.plain()) {
            c.send(FrontEndHarness.whoami(7, FrontEndHarness.authSys(1234, 100, 5, 6)).bytes());
            RawRpc.Reply r = c.read();
            assertSuccess(r);
            assertEquals(1, r.result.getInt());
            assertEquals(1234, r.result.getInt(), "credential passed as it is");
        }
    }

    @Test
    void requireLevels() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (FrontEndHarness h = fe("--require", "tls"); RawRpc p = h.plain(); RawRpc t = h.tls(client(null))) {
            p.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertAuthError(p.read(), 5);
            p.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).proc(0).bytes());
            assertSuccess(p.read());
            t.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
            assertSuccess(t.read());
        }
        try (FrontEndHarness h = FX.frontEnd(tmp.resolve("c"), "--require", "cert", "-m", "-l",
                caFile.toString()); RawRpc anon = h.tls(client(null)); RawRpc cert = h.tls(client(good))) {
            anon.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertAuthError(anon.read(), 5);
            cert.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            assertSuccess(cert.read());
        }
        try (FrontEndHarness h = FX.frontEnd(tmp.resolve("u"), "--require", "certuser", "-m",
                "-l", caFile.toString(), "-u", "-n", "example.org"); RawRpc cert = h.tls(client(good))) {
            cert.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertAuthError(cert.read(), 5);
        }
    }

    @Test
    void disabledRejectsAuthSysAndPassesAuthNone() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        TestPki.Issued elsewhere = ca.leaf("elsewhere").dns("nfs.example.org").issue();
        try (FrontEndHarness h = fe("-m", "-l", caFile.toString(), "-h"); RawRpc t = h.tls(client(elsewhere))) {
            t.send(FrontEndHarness.whoami(1, FrontEndHarness.authSys(0, 0)).bytes());
            assertAuthError(t.read(), 2);
            t.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            RawRpc.Reply r = t.read();
            assertSuccess(r);
            assertEquals(0, r.result.getInt(), "AUTH_NONE reached the backend");
        }
    }

    @Test
    void garbageInsteadOfAClientHello() throws Exception {
        try (FrontEndHarness h = fe(); Socket s = RawRpc.connect(h.port)) {
            RawRpc c = new RawRpc(s);
            c.send(FrontEndHarness.probe(1));
            c.readRecord();
            s.getOutputStream().write("this is not a ClientHello, not at all\r\n".getBytes());
            assertTrue(c.closedByServer());
            assertNothingLeft(h);
        }
    }

    @Test
    void aStalledClientAfterTheProbeIsClosed() throws Exception {
        try (FrontEndHarness h = fe("--handshake-timeout", "0.3"); Socket s = RawRpc.connect(h.port)) {
            RawRpc c = new RawRpc(s);
            c.send(FrontEndHarness.probe(1));
            c.readRecord();
            assertTrue(c.closedByServer());
            assertNothingLeft(h);
        }
    }

    @Test
    void theBackendGoingAwayMidCallClosesTheClient() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc t = h.tls(client(null))) {
            t.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertSuccess(t.read());
            FX.backend().close();
            t.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            assertTrue(t.closedByServer());
            assertNothingLeft(h);
            assertEquals(1, h.daemon.frontEnd().stats().disconnects());
        }
    }

    @Test
    void closeNotifyLeadsToHandleRecordThenDisconnect() throws Exception {
        try (LogCapture log = LogCapture.daemon(); FrontEndHarness h = fe("-v"); RawRpc t = h.tls(client(null))) {
            t.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertSuccess(t.read());
            ((javax.net.ssl.SSLSocket) t.socket()).shutdownOutput();
            assertTrue(t.closedByServer());
            assertNothingLeft(h);
            assertTrue(log.has("rpctlssd_handlerecord cookie="), log.lines().toString());
            int hr = indexOf(log, "rpctlssd_handlerecord cookie=");
            int dc = indexOf(log, "rpctlssd_disconnect cookie=");
            assertTrue(hr >= 0 && dc > hr, "HANDLERECORD before DISCONNECT");
        }
    }

    private static int indexOf(LogCapture log, String fragment) {
        java.util.List<String> lines = log.lines();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(fragment)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void aBackendThatStopsReadingStopsTheClientBeingRead() throws Exception {
        try (java.net.ServerSocket deaf = new java.net.ServerSocket(0, 10, java.net.InetAddress.getLoopbackAddress());
                FrontEndHarness h = new FrontEndHarness(tmp, FX.server, deaf.getLocalPort());
                RawRpc p = h.plain()) {
            byte[] call = FrontEndHarness.whoami(1, FrontEndHarness.authNone()).args(new byte[60 * 1024]).bytes();
            byte[] framed = ByteBuffer.allocate(call.length + 4).putInt(0x80000000 | call.length).put(call).array();
            Thread writer = new Thread(() -> {
                try {
                    for (int i = 0; i < 4000; i++) { // 240 MiB: far more than any socket buffer holds
                        p.sendRaw(framed);
                    }
                } catch (IOException e) {
                    // the connection ends when the test closes it
                }
            });
            writer.setDaemon(true);
            writer.start();
            deaf.setSoTimeout(10_000);
            java.net.Socket accepted = deaf.accept(); // connected for the first call; accepted, never read
            Await.until(() -> h.daemon.frontEnd().stats().pauses() > 0, "the front end stopped reading the client", 60);
            assertTrue(writer.isAlive(), "the client cannot push everything through");
            assertTrue(h.daemon.frontEnd().stats().peakQueued() <= h.daemon.frontEnd().queueLimit(),
                    "queued at most " + h.daemon.frontEnd().queueLimit() + " bytes, saw " + h.daemon.frontEnd().stats().peakQueued());
            accepted.close();
            p.close();
            writer.join(30_000);
            assertNothingLeft(h);
        }
    }

    /**
     * A TLS session quiet for IdleSweep.QUIET_NANOS gives up its cipher objects and relays as before
     * when it speaks again: the call is opened and the reply sealed by cipher objects made anew, twice.
     * The memory budget charges the two cipher objects while they are held, not while quiet.
     */
    @Test
    void aQuietSessionGivesUpItsCipherObjectsAndRelaysAsBeforeWhenItSpeaksAgain() throws Exception {
        try (FrontEndHarness h = fe(); RawRpc t = h.tls(client(null))) {
            var budget = h.daemon.frontEnd().budget();
            long ciphers = 2L * org.rpctlsservd.records.RecordLayer.CIPHER_BYTES;
            long quiet = -1;
            for (int spell = 1; spell <= 2; spell++) {
                t.send(FrontEndHarness.whoami(spell, FrontEndHarness.authNone()).bytes());
                assertSuccess(t.read());
                if (quiet >= 0) {
                    long q = quiet;
                    Await.until(() -> budget.used() >= q + ciphers, "both ciphers charged again (" + budget.used() + ", quiet " + q + ")", 30);
                }
                int expected = spell;
                Await.until(() -> h.daemon.frontEnd().stats().quieted() >= expected, "quiet spell " + spell, 30);
                if (quiet >= 0) {
                    long again = budget.used();
                    assertTrue(Math.abs(again - quiet) < ciphers / 2, "quiet again, charged as before: " + again + " against " + quiet);
                }
                quiet = budget.used();
                assertTrue(quiet > 0, "the session itself stays charged");
            }
            t.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
            assertSuccess(t.read());
            long q = quiet;
            Await.until(() -> budget.used() >= q + ciphers, "both ciphers charged again (" + budget.used() + ", quiet " + q + ")", 30);
        }
    }

    @Test
    void idleConnectionsAreClosed() throws Exception {
        try (FrontEndHarness h = fe("--idle-timeout", "0.3"); RawRpc t = h.tls(client(null)); RawRpc p = h.plain()) {
            assertTrue(t.closedByServer());
            assertTrue(p.closedByServer());
            assertNothingLeft(h);
        }
    }
}
