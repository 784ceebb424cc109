package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;

/**
 * Clients that never read: the front end's own replies are bounded per connection, the budget
 * bounds all connections together, a client that takes nothing is closed after the write
 * timeout, and a client that only probes never costs the backend a connection.
 */
class HostileClientTest {
    static TestPki.Issued server;

    @TempDir
    Path tmp;
    EchoBackend backend;
    private final List<Socket> sockets = new ArrayList<>();
    private final List<Thread> writers = new ArrayList<>();

    @BeforeAll
    static void pki() {
        server = TestPki.ca("Hostile CA").leaf("server").dns("localhost").issue();
    }

    @BeforeEach
    void backend() throws IOException {
        backend = new EchoBackend();
    }

    @AfterEach
    void stop() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        for (Thread t : writers) {
            t.join(10_000);
        }
        backend.close();
    }

    /** A client that streams bad STARTTLS probes (answered by the front end itself) and reads nothing. */
    private Thread flooder(int port) throws IOException {
        Socket s = FrontEndHarness.nonReading(port);
        sockets.add(s);
        byte[] bytes = FrontEndHarness.badProbes(1000);
        Thread t = new Thread(() -> {
            try {
                OutputStream out = s.getOutputStream();
                for (int i = 0; i < 100_000; i++) { // up to 4.4 GB: only the front end closing the connection ends it
                    out.write(bytes);
                }
            } catch (IOException e) {
                // closed by the front end (or by the test)
            }
        }, "flooder");
        t.setDaemon(true);
        t.start();
        writers.add(t);
        return t;
    }

    @Test
    void aClientThatNeverReadsIsBoundedThenClosedAndNeverReachesTheBackend() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = new FrontEndHarness(tmp, server, backend.port(), "--write-timeout", "1")) {
            FrontEnd fe = h.daemon.frontEnd();
            Thread t = flooder(h.port);
            Await.until(() -> fe.stats().pauses() > 0, "the front end stopped reading the flooding client", 30);
            assertTrue(fe.stats().peakQueued() <= fe.queueLimit(), "queued at most " + fe.queueLimit() + ", saw " + fe.stats().peakQueued());
            t.join(20_000);
            assertFalse(t.isAlive(), "the front end closed the client that took no bytes");
            assertTrue(log.has("the client took no bytes for 1 s"), log.lines().toString());
            FrontEndTest.assertNothingLeft(h);
            Await.until(() -> fe.budget().used() == 0, "every byte given back to the budget");
            assertEquals(0, backend.calls.get());
            assertEquals(0, backend.connections(), "probes alone never open a backend connection");
        }
    }

    @Test
    void aHungBackendCostsBoundedConnectsEachWithATimeout() throws Exception {
        // A backend whose accept queue is full: the kernel drops further SYNs, so connects hang.
        try (java.net.ServerSocket hung = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            List<Socket> filling = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Socket f = new Socket();
                try {
                    f.connect(hung.getLocalSocketAddress(), 300);
                    filling.add(f);
                } catch (IOException e) {
                    f.close(); // the queue is full
                }
            }
            sockets.addAll(filling);
            try (LogCapture log = LogCapture.daemon();
                    FrontEndHarness h = new FrontEndHarness(tmp, server, hung.getLocalPort())) {
                FrontEnd fe = h.daemon.frontEnd();
                List<RawRpc> clients = new ArrayList<>();
                for (int i = 0; i < ConnectPermits.LIMIT + 20; i++) {
                    RawRpc c = new RawRpc(RawRpc.connect(h.port));
                    clients.add(c);
                    c.send(FrontEndHarness.whoami(i, FrontEndHarness.authNone()).bytes());
                }
                long t0 = System.nanoTime();
                for (RawRpc c : clients) {
                    assertTrue(c.closedByServer(), "every client closed at its connect timeout; those past the bound waited for one");
                    c.close();
                }
                long waited = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                // 256 connects time out together, then the 20 that waited for them
                assertTrue(waited < 2 * BackendConnect.TIMEOUT.toMillis() + 3000, "closed after " + waited + " ms");
                assertTrue(log.has("cannot reach the backend"), log.lines().toString());
                FrontEndTest.assertNothingLeft(h);
                assertEquals(ConnectPermits.LIMIT, fe.permits().available(), "no connect left counted");
            }
        }
    }

    @Test
    void theGlobalBudgetClosesTheLargestHoldersAndServesTheOthersMeanwhile() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = new FrontEndHarness(tmp, server, backend.port(), "--memory-budget", "1")) {
            FrontEnd fe = h.daemon.frontEnd();
            for (int i = 0; i < 3; i++) {
                flooder(h.port);
            }
            Await.until(() -> fe.stats().shedForMemory() > 0, "the budget was reached and someone shed", 30);
            assertTrue(log.has("front end: memory budget of 1 MiB reached"), log.lines().toString());
            // Nobody waits for the budget: a good client is served while the flooders are still at it.
            try (RawRpc good = h.plain()) {
                good.send(FrontEndHarness.whoami(7, FrontEndHarness.authNone()).bytes());
                FrontEndTest.assertSuccess(good.read());
            }
            long limit = fe.budget().limit();
            assertTrue(fe.budget().peak() < limit + 3 * 256 * 1024, "peak " + fe.budget().peak() + " over a budget of " + limit);
            // The flooders were closed for the budget, long before the 30 s write timeout could.
            for (Thread t : writers) {
                t.join(20_000);
                assertFalse(t.isAlive(), () -> "a flooder still open: shed " + fe.stats().shedForMemory() + ", used " + fe.budget().used()
                        + " of " + fe.budget().limit() + ", paused " + fe.budget().paused() + ", connections " + fe.connectionCount());
            }
            assertEquals(3, fe.stats().shedForMemory(), "each flooder closed once, nobody else");
            FrontEndTest.assertNothingLeft(h);
        }
    }
}
