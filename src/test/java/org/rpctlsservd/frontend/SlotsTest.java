package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;

/**
 * Connection slots and memory are never held hostage: a client must earn its slot within
 * --first-call-timeout; at --max-clients the connections that earned least, longest idle first,
 * make room for a newcomer; at the memory budget's limit the holders of unfinished calls are
 * closed and everyone else goes on being served (the budget used to stop every read, and calls
 * half-read at that moment could never finish: a dead-lock).
 */
class SlotsTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Slots CA");

    @TempDir
    Path tmp;
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void close() throws IOException {
        for (Socket s : sockets) {
            s.close();
        }
    }

    private Socket idle(int port) throws IOException {
        Socket s = RawRpc.connect(port);
        sockets.add(s);
        return s;
    }

    private static void served(RawRpc c, int xid) throws IOException {
        c.send(FrontEndHarness.whoami(xid, FrontEndHarness.authNone()).bytes());
        FrontEndTest.assertSuccess(c.read());
    }

    /** True when the front end closed {@code s}: end of stream or a reset, within 10 s. */
    private static boolean closedByPeer(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        InputStream in = s.getInputStream();
        try {
            return in.read() < 0;
        } catch (SocketException reset) {
            return true;
        }
    }

    @Test
    void idleSocketsCannotKeepANewClientOutAndEarnedSessionsStay() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--max-clients", "40")) {
            FrontEnd fe = h.daemon.frontEnd();
            // A TLS session has earned the most: a flood of fresh sockets never takes its slot. (A plain client
            // that relayed a call goes by age with the newcomers, so a flood may take an idle one's slot.)
            RawRpc earned = h.tls(org.rpctlsservd.support.TlsHarness.jdkClient(FX.client, FX.ca, "TLSv1.3"));
            served(earned, 1);
            List<Socket> flood = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                flood.add(idle(h.port));
            }
            Await.until(() -> fe.stats().evicted() >= 61, "room made for every idle socket past the cap");
            RawRpc newcomer = h.plain();
            served(newcomer, 2);
            served(earned, 3);
            assertTrue(closedByPeer(flood.get(0)), "the longest-idle socket that earned nothing made room");
            assertTrue(fe.connectionCount() <= 40 + Admission.EVICT_BATCH, "connections " + fe.connectionCount());
            assertTrue(log.has("to make room"), log.lines().toString());
        }
    }

    @Test
    void aClientThatEarnsNothingIsClosedAtTheFirstCallTimeoutAndOthersStay() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--first-call-timeout", "0.3")) {
            FrontEnd fe = h.daemon.frontEnd();
            RawRpc earned = h.plain();
            served(earned, 1);
            Socket silent = idle(h.port);
            Socket headerOnly = idle(h.port);
            headerOnly.getOutputStream().write(new byte[] {(byte) 0x80, 0, 0, 100, 1, 2}); // a call begun, never finished
            assertTrue(closedByPeer(silent), "a client that sent nothing is closed");
            assertTrue(closedByPeer(headerOnly), "a client whose first call never completes is closed");
            assertEquals(2, fe.stats().firstCallTimeouts());
            served(earned, 2);
            assertTrue(log.has("within 300 ms (--first-call-timeout)"), log.lines().toString());
        }
    }

    @Test
    void aReloadThatHangsHoldsBackNoDeadline() throws Exception {
        Path caFile = java.nio.file.Files.writeString(tmp.resolve("ca.pem"), org.rpctlsservd.support.TestPki.pem(FX.ca.cert()));
        Path crl = java.nio.file.Files.writeString(tmp.resolve("crl.pem"), org.rpctlsservd.support.TestPki.pem(FX.ca.crl()));
        try (FrontEndHarness h = FX.frontEnd(tmp, "-m", "-l", caFile.toString(), "-r", crl.toString(), "--first-call-timeout", "0.3")) {
            // The CRL becomes a pipe nobody writes yet: the reload's read of it waits (as on a hung NFS mount or a slow token).
            java.nio.file.Files.delete(crl);
            assertEquals(0, new ProcessBuilder("mkfifo", crl.toString()).start().waitFor());
            int before = h.daemon.reloads();
            h.daemon.reload();
            try {
                Socket silent = idle(h.port);
                assertTrue(closedByPeer(silent), "the first-call deadline is kept while the reload hangs");
                RawRpc c = h.plain();
                served(c, 1);
            } finally {
                java.nio.file.Files.writeString(crl, org.rpctlsservd.support.TestPki.pem(FX.ca.crl())); // the reload goes on
            }
            Await.until(() -> h.daemon.reloads() > before, "the reload, once the file could be read");
        }
    }

    @Test
    void halfReadCallsAreClosedForTheBudgetWhileAnActiveSessionGoesOn() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--memory-budget", "4")) {
            FrontEnd fe = h.daemon.frontEnd();
            RawRpc active = h.plain();
            served(active, 1);
            List<Socket> stallers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Socket s = idle(h.port);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                // a 3 MiB call whose first fragment is too short to hold its header, so the front end
                // assembles it: 1 MiB of it comes, then nothing
                out.writeInt(16);
                out.write(new byte[16]);
                out.writeInt(0x80000000 | (3 << 20));
                out.write(new byte[1 << 20]);
                out.flush();
                stallers.add(s);
            }
            Await.until(() -> fe.stats().shedForMemory() > 0, "the budget was reached and the half-read calls shed");
            // The active session was never made to wait, and a newcomer is admitted once it drained.
            served(active, 2);
            Await.until(() -> !fe.budget().paused(), "the budget drained");
            try (RawRpc newcomer = h.plain()) {
                served(newcomer, 3);
            }
            int closed = 0;
            for (Socket s : stallers) {
                if (closedByPeerQuick(s)) {
                    closed++;
                }
            }
            assertTrue(closed >= 2, "at least the calls past the budget were closed: " + closed);
            assertEquals(closed, fe.stats().shedForMemory(), "only half-read calls were shed");
            // Past the limit by at most two callbacks' growth per loop (one that ran while another loop's scan
            // marked, one before its marks closed): each a read and one record buffer doubling (here from
            // just under 1 MiB to just under 2 MiB, the 3 MiB call's next step).
            long limit = fe.budget().limit();
            long slack = fe.loopCount() * 2 * ((1L << 20) + Loop.READ_BUFFER);
            assertTrue(fe.budget().peak() < limit + slack, "peak " + fe.budget().peak() + " over a budget of " + limit);
            assertTrue(log.has("front end: memory budget of 4 MiB reached"), log.lines().toString());
        }
    }

    @Test
    void aLargeCallStreamsToTheBackendAndAHalfSentOneHoldsNoMemory() throws Exception {
        java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();
        try (java.net.ServerSocket backend = new java.net.ServerSocket(0, 16, java.net.InetAddress.getLoopbackAddress());
                FrontEndHarness h = FX.frontEnd(tmp, backend.getLocalPort(), "--memory-budget", "4")) {
            pool.submit(() -> {
                while (!backend.isClosed()) {
                    Socket s = backend.accept(); // a backend that takes every byte it is sent, and counts them
                    pool.submit(() -> {
                        try (s; InputStream in = s.getInputStream()) {
                            byte[] b = new byte[64 * 1024];
                            int n;
                            while ((n = in.read(b)) > 0) {
                                received.addAndGet(n);
                            }
                        }
                        return null;
                    });
                }
                return null;
            });
            FrontEnd fe = h.daemon.frontEnd();
            List<Socket> stallers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Socket s = idle(h.port);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                // a WRITE-sized call (one 3 MiB fragment) of which 1 MiB comes, then nothing: its header is
                // decided on and its bytes go on to the backend as they come, none kept for the rest
                byte[] head = RawRpc.call().xid(7).prog(org.rpctlsservd.support.EchoBackend.PROGRAM).vers(1).proc(0).bytes();
                out.writeInt(0x80000000 | (3 << 20));
                out.write(head);
                out.write(new byte[(1 << 20) - head.length]);
                out.flush();
                stallers.add(s);
            }
            Await.until(() -> received.get() == 6L * ((1 << 20) + 4), "every half-sent call reached the backend, mark and all");
            assertEquals(0, fe.stats().shedForMemory(), "nothing was shed: the half-sent calls hold no memory here");
            assertTrue(fe.budget().peak() < 2L << 20, "peak " + fe.budget().peak() + " of a 4 MiB budget");
            for (Socket s : stallers) {
                s.close();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Closed already (the front end shed it), or still open: a short read timeout tells which. */
    private static boolean closedByPeerQuick(Socket s) throws IOException {
        s.setSoTimeout(200);
        try {
            return s.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException open) {
            return false;
        } catch (SocketException reset) {
            return true;
        }
    }
}
