package org.rpctlsservd.support;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.Handshaker;
import org.rpctlsservd.handshake.Steps;
import org.rpctlsservd.sessions.Session;

/**
 * The handshake step for tests of the RPC service, before the TLS engine: it holds its worker
 * until the test releases the cookie (or at once when none is set up), then succeeds with the
 * scripted flags, or fails when told to. Its sessions close their real sockets.
 */
public final class ScriptedHandshaker implements Handshaker {
    private final Map<Long, CountDownLatch> gates = new ConcurrentHashMap<>();
    private final Map<Long, Integer> flags = new ConcurrentHashMap<>();
    private final Map<Long, Boolean> failures = new ConcurrentHashMap<>();
    public final AtomicInteger started = new AtomicInteger();
    public final Map<Long, PlainSession> sessions = new ConcurrentHashMap<>();
    public volatile int uid = 1001;
    public volatile int[] gids = {1001, 27, 100};

    /** The handshake for {@code cookie} waits until {@link #release(long)}. */
    public void hold(long cookie) {
        gates.put(cookie, new CountDownLatch(1));
    }

    public void release(long cookie) {
        gates.get(cookie).countDown();
    }

    public void flags(long cookie, int f) {
        flags.put(cookie, f);
    }

    public void fail(long cookie) {
        failures.put(cookie, true);
    }

    @Override
    public CompletionStage<HandshakeOutcome> handshake(SocketChannel socket, java.net.InetSocketAddress client, long cookie,
            Steps workers, long receivedNanos) {
        started.incrementAndGet();
        CountDownLatch gate = gates.get(cookie);
        try {
            if (gate != null && !gate.await(30, TimeUnit.SECONDS)) {
                return CompletableFuture.failedFuture(new IOException("test gate never opened"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CompletableFuture.failedFuture(e);
        }
        if (failures.containsKey(cookie)) {
            return CompletableFuture.failedFuture(new IOException("scripted handshake failure"));
        }
        PlainSession s = new PlainSession(cookie, socket);
        sessions.put(cookie, s);
        int f = flags.getOrDefault(cookie, HandshakeOutcome.FLAGS_HANDSHAKE);
        return CompletableFuture.completedFuture(new HandshakeOutcome(f, uid, gids, s));
    }

    /** A session over a plain socket: DISCONNECT half-closes and closes it. */
    public static final class PlainSession implements Session {
        private final long cookie;
        private final SocketChannel socket;
        public final AtomicInteger handled = new AtomicInteger();
        public volatile boolean disconnected;
        public volatile boolean aborted;

        PlainSession(long cookie, SocketChannel socket) {
            this.cookie = cookie;
            this.socket = socket;
        }

        @Override
        public long cookie() {
            return cookie;
        }

        @Override
        public void handlePendingRecord() {
            handled.incrementAndGet();
        }

        @Override
        public void disconnect() {
            disconnected = true;
            try {
                socket.shutdownOutput();
            } catch (IOException ignored) {
                // already gone
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // already gone
            }
        }

        @Override
        public void abort() {
            aborted = true;
            try {
                socket.shutdownInput();
                socket.close();
            } catch (IOException ignored) {
                // already gone
            }
        }

        public boolean isOpen() {
            return socket.isOpen();
        }
    }
}
