package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;

/**
 * Backend connections from reserved source ports (--backend-source-ports, --backend-source): the
 * allocation alone, then with real sockets, as the backend sees them. Run as root, as CI does.
 */
class SourcePortsTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Ports CA");

    @TempDir
    Path tmp;

    private static final InetSocketAddress B1 = new InetSocketAddress(InetAddress.getLoopbackAddress(), 2049);
    private static final InetSocketAddress B2 = new InetSocketAddress(InetAddress.getLoopbackAddress(), 20048);

    @Test
    void portsGoInTurnFromTheTopAndEachBackendHasTheWholeRange() {
        SourcePorts p = new SourcePorts(new SourcePortRange(1000, 1002, true), List.of());
        SourcePorts.Lease a = p.take(B1);
        SourcePorts.Lease b = p.take(B1);
        assertEquals(1002, a.local().getPort());
        assertEquals(1001, b.local().getPort());
        assertEquals(1002, p.take(B2).local().getPort(), "another backend: the same port is a different connection");
        p.release(a);
        assertEquals(1000, p.take(B1).local().getPort(), "a freed port is reused as late as can be");
        assertEquals(1002, p.take(B1).local().getPort());
        assertNull(p.take(B1), "all three in use toward B1");
        assertEquals(3, p.inUse(B1));
        assertEquals(3, p.capacity(B1));
    }

    @Test
    void sourceAddressesAddRangesOneAfterTheOther() throws Exception {
        InetAddress two = InetAddress.getByName("127.0.0.2");
        InetAddress three = InetAddress.getByName("127.0.0.3");
        SourcePorts p = new SourcePorts(new SourcePortRange(1000, 1001, true), List.of(two, three, InetAddress.getByName("::1")));
        assertEquals(4, p.capacity(B1), "two IPv4 sources for an IPv4 backend");
        List<InetAddress> seen = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            seen.add(p.take(B1).local().getAddress());
        }
        assertEquals(List.of(two, two, three, three), seen, "the first address until it is full");
        assertNull(p.take(B1));
        assertNull(p.noSourceFor(new InetSocketAddress(InetAddress.getByName("::1"), 2049)), "::1 serves an IPv6 backend");
        SourcePorts v4only = new SourcePorts(new SourcePortRange(1000, 1001, true), List.of(two));
        assertTrue(v4only.noSourceFor(new InetSocketAddress(InetAddress.getByName("::1"), 2049)).contains("no IPv6 address"));
    }

    /** A plain client's call relayed, and the source port the backend saw it come from. */
    private static int relayedFrom(FrontEndHarness h, int xid) throws IOException {
        try (RawRpc c = h.plain()) {
            c.send(FrontEndHarness.whoami(xid, FrontEndHarness.authNone()).bytes());
            RawRpc.Reply r = c.read();
            assertEquals(0, r.stat, r.toString());
        }
        return FX.backend().lastPeer.getPort();
    }

    @Test
    void backendConnectionsComeFromReservedPortsByDefault() throws Exception {
        try (FrontEndHarness h = FX.frontEnd(tmp)) {
            int port = relayedFrom(h, 1);
            assertTrue(port >= 665 && port <= 1023, "source port " + port);
        }
        try (FrontEndHarness h = FX.frontEnd(tmp.resolve("any"), "--backend-source-ports", "any")) {
            int port = relayedFrom(h, 2);
            assertTrue(port >= 1024, "source port " + port + " with --backend-source-ports any");
        }
    }

    @Test
    void runningOutRefusesTheClientSaysWhyAndServesOnceAPortIsFree() throws Exception {
        try (LogCapture log = LogCapture.daemon(); FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1001")) {
            RawRpc a = h.plain();
            RawRpc b = h.plain();
            a.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            b.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            assertEquals(0, a.read().stat);
            assertEquals(0, b.read().stat);
            Set<Integer> ports = new HashSet<>();
            ports.add(FX.backend().lastPeer.getPort());
            try (RawRpc c = h.plain()) {
                c.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
                assertTrue(c.closedByServer(), "the third client is refused: no port left");
            }
            assertEquals(1, h.daemon.frontEnd().stats().sourcePortsExhausted());
            assertTrue(log.has("refused program 536871065 version 1 procedure 1: reserved ports exhausted: 2 connections to the backend"),
                    log.lines().toString());
            assertEquals(2, FX.backend().calls.get(), "the refused call never reached the backend");
            a.close();
            Await.until(() -> h.daemon.frontEnd().connectionCount() == 1, "the first client gone");
            try (RawRpc d = h.plain()) {
                d.send(FrontEndHarness.whoami(4, FrontEndHarness.authNone()).bytes());
                assertEquals(0, d.read().stat, "served again once a port is free");
                ports.add(FX.backend().lastPeer.getPort());
            }
            assertTrue(Set.of(1000, 1001).containsAll(ports), ports.toString());
        }
    }

    @Test
    void idleHoldersMakeRoomForANewcomer() throws Exception {
        try (LogCapture log = LogCapture.daemon(); FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1001")) {
            RawRpc a = h.plain();
            a.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, a.read().stat);
            RawRpc b = h.plain();
            b.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            assertEquals(0, b.read().stat);
            long idleFrom = System.nanoTime();
            // the behaviour under test is about time passing: both holders idle past Admission.EVICT_IDLE_NANOS
            Await.until(() -> System.nanoTime() - idleFrom > Admission.EVICT_IDLE_NANOS + 100_000_000L, "the holders to be idle");
            try (RawRpc c = h.plain()) {
                c.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
                assertEquals(0, c.read().stat, "the newcomer is served on the port the longest-idle holder gave back");
            }
            assertTrue(a.closedByServer(), "the longest idle holder was closed to make room");
            assertEquals(0, h.daemon.frontEnd().stats().sourcePortsExhausted(), "nobody refused");
            assertTrue(log.has("every source port toward the backend"), log.lines().toString());
            b.send(FrontEndHarness.whoami(4, FrontEndHarness.authNone()).bytes());
            assertEquals(0, b.read().stat, "the other holder goes on");
        }
    }

    @Test
    void noPortIsLostWhateverHappensToItsConnection() throws Exception {
        try (FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1003")) {
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(12);
            List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
            for (int t = 0; t < 12; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 15; i++) {
                        try (RawRpc c = h.plain()) {
                            c.send(FrontEndHarness.whoami(id * 100 + i, FrontEndHarness.authNone()).bytes());
                            c.read();
                        } catch (IOException e) {
                            // refused: no port
                        }
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : done) {
                f.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
            // and the ports of holders closed to make room: four hold, idle, then twelve come
            List<RawRpc> holders = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                RawRpc c = h.plain();
                c.send(FrontEndHarness.whoami(5000 + i, FrontEndHarness.authNone()).bytes());
                c.read();
                holders.add(c);
            }
            long idleFrom = System.nanoTime();
            Await.until(() -> System.nanoTime() - idleFrom > Admission.EVICT_IDLE_NANOS + 100_000_000L, "the holders to be idle");
            done.clear();
            for (int t = 0; t < 12; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    try (RawRpc c = h.plain()) {
                        c.send(FrontEndHarness.whoami(6000 + id, FrontEndHarness.authNone()).bytes());
                        c.read();
                    } catch (IOException e) {
                        // refused: no port
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : done) {
                f.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
            for (RawRpc c : holders) {
                c.close();
            }
            pool.shutdown();
            Await.until(() -> h.daemon.frontEnd().connectionCount() == 0, "every client gone");
            InetSocketAddress b = new InetSocketAddress(InetAddress.getLoopbackAddress(), FX.backend().port());
            Await.until(() -> h.daemon.frontEnd().sourcePorts().inUse(b) == 0, "every port back: " + h.daemon.frontEnd().sourcePorts().inUse(b));
        }
    }

    @Test
    void aClientBelowRequireNeverKeepsAPortFromOneThatMeetsIt() throws Exception {
        java.nio.file.Path caFile = java.nio.file.Files.writeString(tmp.resolve("ca.pem"), org.rpctlsservd.support.TestPki.pem(FX.ca.cert()));
        try (FrontEndHarness h = FX.frontEnd(tmp.resolve("d"), "--require", "cert", "-m", "-l", caFile.toString(),
                "--backend-source-ports", "1000-1000")) {
            // TLS without a certificate: below --require cert, yet its NULL calls are relayed and hold the only port
            RawRpc squatter = h.tls(org.rpctlsservd.support.TlsHarness.jdkClient(null, FX.ca, "TLSv1.3"));
            squatter.send(RawRpc.call().xid(1).prog(org.rpctlsservd.support.EchoBackend.PROGRAM).vers(1).proc(0).bytes());
            assertEquals(0, squatter.read().stat);
            // busy, not idle: a NULL call just now
            squatter.send(RawRpc.call().xid(2).prog(org.rpctlsservd.support.EchoBackend.PROGRAM).vers(1).proc(0).bytes());
            assertEquals(0, squatter.read().stat);
            try (RawRpc mount = h.tls(org.rpctlsservd.support.TlsHarness.jdkClient(FX.client, FX.ca, "TLSv1.3"))) {
                mount.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
                assertEquals(0, mount.read().stat, "a client with a verified certificate takes the port from one below --require");
            }
            assertTrue(squatter.closedByServer());
        }
    }

    @Test
    void twoPortsServeClientAfterClient() throws Exception {
        // Each client relays a call and leaves: its port is given back and serves the next ones. (The
        // reset that spares a remote backend's ports TIME_WAIT cannot be told apart here: this kernel
        // reuses TIME_WAIT ports toward local addresses anyway.)
        try (FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1001")) {
            for (int i = 0; i < 30; i++) {
                int port = relayedFrom(h, i);
                assertTrue(port == 1000 || port == 1001, "source port " + port);
                int expected = 1;
                Await.until(() -> h.daemon.frontEnd().connectionCount() == 0, "client " + expected + " gone");
            }
            assertEquals(0, h.daemon.frontEnd().stats().sourcePortsExhausted());
        }
    }

    @Test
    void aPortAnotherProgramHoldsIsSkipped() throws Exception {
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress(1001)); // a listener on the top port: binding it fails
            try (FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1001")) {
                assertEquals(1000, relayedFrom(h, 1));
            }
        }
    }

    @Test
    void sourceAddressesAreUsedInOrder() throws Exception {
        try (FrontEndHarness h = FX.frontEnd(tmp, "--backend-source-ports", "1000-1000", "--backend-source", "127.0.0.2",
                "--backend-source", "127.0.0.3")) {
            RawRpc a = h.plain();
            a.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, a.read().stat);
            assertEquals(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 1000), FX.backend().lastPeer);
            RawRpc b = h.plain();
            b.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            assertEquals(0, b.read().stat);
            assertEquals(new InetSocketAddress(InetAddress.getByName("127.0.0.3"), 1000), FX.backend().lastPeer);
        }
    }
}
