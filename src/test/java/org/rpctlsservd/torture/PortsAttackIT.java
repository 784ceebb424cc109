package org.rpctlsservd.torture;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;

/**
 * The reserved source ports (issue 17): 600 clients, more than the 359 ports of 665-1023, each
 * relay one call and then sit idle holding its backend connection, reconnecting when closed. Good
 * TLS clients once a second must be served all the while: at the limit the holder idle longest
 * makes room, so idle connections cannot hold the ports against everyone.
 */
class PortsAttackIT {
    private static final int ATTACKERS = 600;

    @TempDir
    Path tmp;
    EchoBackend backend;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final ExecutorService attackers = Executors.newFixedThreadPool(ATTACKERS, r -> {
        Thread t = new Thread(r, "attacker");
        t.setDaemon(true);
        return t;
    });

    @BeforeAll
    static void pki() throws Exception {
        HostileLoadIT.pki();
    }

    @BeforeEach
    void setUp() throws IOException {
        backend = new EchoBackend();
        TestPki.writeServer(tmp.resolve("server"), HostileLoadIT.server);
    }

    @AfterEach
    void tearDown() throws Exception {
        stop.set(true);
        attackers.shutdownNow();
        attackers.awaitTermination(10, TimeUnit.SECONDS);
        backend.close();
    }

    @Test
    void idleHoldersCannotKeepTheReservedPorts() throws Exception {
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), HostileLoadIT.HEAP, List.of(), "-d", "-D",
                tmp.resolve("server").toString(), "--pidfile", tmp.resolve("pid").toString(), "--rpc-socket",
                tmp.resolve("rpctlssd.sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0", "--backend",
                "127.0.0.1:" + backend.port())) {
            assertTrue(d.log().contains("backend connections from ports 665-1023, 359 at once"), d.log());
            AtomicInteger holding = new AtomicInteger();
            AtomicInteger closedByDaemon = new AtomicInteger();
            for (int i = 0; i < ATTACKERS; i++) {
                int xid = i;
                attackers.submit(() -> {
                    while (!stop.get()) {
                        try (Socket s = RawRpc.connect(d.frontEndPort); RawRpc r = new RawRpc(s)) {
                            r.send(FrontEndHarness.whoami(xid, FrontEndHarness.authNone()).bytes());
                            r.read(); // relayed: it holds a backend connection, and a reserved port, from now on
                            holding.incrementAndGet();
                            s.setSoTimeout(0);
                            if (r.closedByServer()) { // idle until the daemon closes it
                                closedByDaemon.incrementAndGet();
                            }
                            holding.decrementAndGet();
                        } catch (IOException e) {
                            // refused or reset: try again, as a hostile client would
                        }
                        try {
                            TimeUnit.MILLISECONDS.sleep(100); // pacing: 600 threads reconnecting at once would only starve this machine's 2 cores
                        } catch (InterruptedException e) {
                            return null;
                        }
                    }
                    return null;
                });
            }
            HostileLoadIT.GoodClients good;
            try {
                good = HostileLoadIT.goodClientsDuring(d, Math.max(5, HostileLoadIT.SECONDS));
            } catch (Exception | AssertionError e) {
                String log = d.log();
                throw new AssertionError("a good client failed: " + e + "; daemon log ends: " + log.substring(Math.max(0, log.length() - 3000)), e);
            }
            HostileLoadIT.report(String.format("reserved ports: %d idle relayed clients against 359 ports: %d good clients served,"
                    + " worst %d ms; %d idle holders closed to make room", ATTACKERS, good.served(), good.worstMs(), closedByDaemon.get()));
            assertTrue(good.worstMs() <= HostileLoadIT.GOOD_CLIENT_MS, "worst good client " + good.worstMs() + " ms");
            assertTrue(closedByDaemon.get() > 0, "idle holders were closed to make room");
        }
    }
}
