package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.IoLoop;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * The RFC 9289 front end: accepts RPC clients on the --listen addresses, connects each to the
 * --backend server, and plays the FreeBSD kernel's part for it (see {@link ClientConnection}).
 * It owns its listeners, its I/O thread, its upcall client and every client connection.
 */
public final class FrontEnd implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    static final int MAX_CONNECTIONS = 10_000;

    final SocketHandoff handoff;
    final SessionTable sessions;
    final Config.Require require;
    final int maxRecord = 4 * 1024 * 1024 + 1024;
    final IoLoop io;
    final Upcalls upcalls;
    final Set<ClientConnection> connections = ConcurrentHashMap.newKeySet();
    final AtomicInteger handshakes = new AtomicInteger();
    final AtomicInteger disconnects = new AtomicInteger();
    final AtomicInteger pauses = new AtomicInteger();
    final java.util.concurrent.atomic.AtomicLong peakQueued = new java.util.concurrent.atomic.AtomicLong();
    private final InetSocketAddress backend;
    private final long idleNanos;
    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    private final List<Thread> acceptors = new ArrayList<>();
    private final ExecutorService connector;
    private final ScheduledFuture<?> sweep;
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private volatile boolean closed;

    public FrontEnd(Config config, InetSocketAddress service, SocketHandoff handoff, SessionTable sessions,
            ScheduledExecutorService timer) throws IOException {
        this.handoff = handoff;
        this.sessions = sessions;
        this.require = config.require();
        this.backend = config.backend();
        this.idleNanos = config.idleTimeout().toNanos();
        this.io = new IoLoop("frontend-io");
        this.upcalls = new Upcalls(service, config.upcallTimeout(), timer);
        AtomicInteger serial = new AtomicInteger();
        this.connector = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "frontend-connect-" + serial.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        ((ThreadPoolExecutor) connector).allowCoreThreadTimeOut(true);
        try {
            for (InetSocketAddress a : config.listen()) {
                ServerSocketChannel ss = ServerSocketChannel.open();
                listeners.add(ss);
                ss.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ss.bind(a, 1024);
            }
        } catch (IOException e) {
            close();
            throw new IOException("front end: cannot listen: " + e.getMessage(), e);
        }
        long period = Math.max(50, Math.min(1000, TimeUnit.NANOSECONDS.toMillis(idleNanos) / 4));
        this.sweep = timer.scheduleWithFixedDelay(this::sweepIdle, period, period, TimeUnit.MILLISECONDS);
        for (ServerSocketChannel ss : listeners) {
            Thread t = new Thread(() -> acceptLoop(ss), "frontend-accept-" + ((InetSocketAddress) ss.getLocalAddress()).getPort());
            t.setDaemon(true);
            acceptors.add(t);
            t.start();
            LOG.info("front end: RPC-over-TLS on " + ss.getLocalAddress() + ", relaying to " + backend
                    + " (require " + require.name().toLowerCase(java.util.Locale.ROOT) + ")");
        }
    }

    /** The bound listening addresses (the real ports when 0 was asked for). */
    public List<InetSocketAddress> addresses() throws IOException {
        List<InetSocketAddress> out = new ArrayList<>();
        for (ServerSocketChannel ss : listeners) {
            out.add((InetSocketAddress) ss.getLocalAddress());
        }
        return out;
    }

    public int connectionCount() {
        return connections.size();
    }

    /** Handshakes that succeeded, and DISCONNECT upcalls made, so far. */
    public int handshakes() {
        return handshakes.get();
    }

    public int disconnects() {
        return disconnects.get();
    }

    /** Times a side stopped being read because the other side was not taking its bytes. */
    public int pauses() {
        return pauses.get();
    }

    /** The most bytes ever queued for one side of one connection. */
    public long peakQueued() {
        return peakQueued.get();
    }

    /** What one connection may queue for a side before the other side stops being read (plus one record). */
    public long queueLimit() {
        return ClientConnection.HIGH_WATER + maxRecord;
    }

    /** The shared read buffer; only the I/O thread uses it. */
    ByteBuffer readBuffer() {
        readBuffer.clear();
        return readBuffer;
    }

    private void acceptLoop(ServerSocketChannel ss) {
        while (!closed) {
            SocketChannel c;
            try {
                c = ss.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning("front end: accept failed: " + e.getMessage());
                }
                continue;
            }
            if (connections.size() >= MAX_CONNECTIONS) {
                LOG.warning("front end: refused a client: " + MAX_CONNECTIONS + " connections already");
                closeQuietly(c);
                continue;
            }
            connector.execute(() -> open(c));
        }
    }

    /** Connects the client's backend connection (blocking, bounded), then hands both to the I/O thread. */
    private void open(SocketChannel c) {
        SocketChannel b = null;
        try {
            InetSocketAddress peer = (InetSocketAddress) c.getRemoteAddress();
            b = SocketChannel.open();
            b.socket().connect(backend, 5000);
            b.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            b.configureBlocking(false);
            c.configureBlocking(false);
            ClientConnection conn = new ClientConnection(this, c, b, peer);
            connections.add(conn);
            if (closed) {
                connections.remove(conn);
                throw new IOException("front end closed");
            }
            io.submit(conn::start);
        } catch (IOException e) {
            LOG.warning("front end: cannot serve a client: backend " + backend + ": " + e.getMessage());
            closeQuietly(c);
            if (b != null) {
                closeQuietly(b);
            }
        }
    }

    private void sweepIdle() {
        long now = System.nanoTime();
        for (ClientConnection c : connections) {
            if (now - c.lastActivity > idleNanos && c.state() != ClientConnection.State.HANDSHAKING) {
                io.submit(() -> c.teardown("idle for " + TimeUnit.NANOSECONDS.toSeconds(idleNanos) + " s"));
            }
        }
    }

    static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing: nothing more to do
        }
    }

    @Override
    public void close() {
        closed = true;
        if (sweep != null) {
            sweep.cancel(false);
        }
        for (ServerSocketChannel ss : listeners) {
            closeQuietly(ss);
        }
        for (Thread t : acceptors) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        connector.shutdownNow();
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        io.submit(() -> {
            for (ClientConnection c : new ArrayList<>(connections)) {
                c.teardown("the daemon is stopping");
            }
            done.countDown();
        });
        try {
            done.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        upcalls.close();
        io.close();
        for (ClientConnection c : connections) {
            closeQuietly(c.client);
        }
    }
}
