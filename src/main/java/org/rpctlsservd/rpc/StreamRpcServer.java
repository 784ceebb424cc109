package org.rpctlsservd.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.io.Acceptor;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;

/**
 * ONC-RPC over a stream socket, TCP or Unix-domain: one accept thread, and one event loop that
 * serves every connection (capped) without blocking: it reads calls (read interest stays armed
 * while a caller keeps sending) and dispatches them, and replies, immediate or deferred, are
 * written without blocking under a write lock per connection. What waits to be written is bounded:
 * past {@link #PAUSE_READING} bytes the caller is no longer read until it takes its replies, and a
 * caller that takes nothing for the write timeout is closed by the sweeper, which also closes idle
 * connections. A record size cap. A Unix-domain listener accepts only the peers its
 * {@link PeerCheck} admits (by SO_PEERCRED).
 */
public final class StreamRpcServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(StreamRpcServer.class.getName());

    /** Decides, at accept, whether a peer may talk to this listener; returns why not, or null. */
    @FunctionalInterface
    public interface PeerCheck {
        String refuse(SocketChannel peer) throws IOException;
    }

    private final ServerSocketChannel listener;
    private final String name;
    private final boolean local;
    private final PeerCheck check;
    private final RpcDispatcher dispatcher;
    private final ServerLimits limits;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final Acceptor acceptor;
    private final Thread acceptThread;
    private final IoLoop loop;
    /** For the connections on {@link #loop}; a connection on another loop has its own. */
    private final ByteBuffer readBuffer = ByteBuffer.allocate(16 * 1024);
    private final LoopPlacement placement;
    /** Replies waiting for a caller beyond which it is not read (it is not reading its replies). */
    static final int PAUSE_READING = 256 * 1024;
    private final java.util.concurrent.atomic.AtomicLong peakQueued = new java.util.concurrent.atomic.AtomicLong();
    private final ScheduledFuture<?> sweep;
    private final RateLimitedLog warnings = new RateLimitedLog(Logger.getLogger("rpctlssd"));
    private volatile boolean closed;

    /**
     * @param local true for a Unix-domain listener: its callers count as privileged, since
     *              {@code check} has admitted only root and the daemon's own user
     */
    public StreamRpcServer(ServerSocketChannel listener, String name, boolean local, PeerCheck check, RpcDispatcher dispatcher,
            ServerLimits limits, ScheduledExecutorService timer) throws IOException {
        this(listener, name, local, check, dispatcher, limits, timer, null);
    }

    /** {@code placement}: callers in this process whose connections are served on their own loops (null: none). */
    public StreamRpcServer(ServerSocketChannel listener, String name, boolean local, PeerCheck check, RpcDispatcher dispatcher,
            ServerLimits limits, ScheduledExecutorService timer, LoopPlacement placement) throws IOException {
        this.placement = placement;
        this.listener = listener;
        this.name = name;
        this.local = local;
        this.check = check;
        this.dispatcher = dispatcher;
        this.limits = limits;
        this.acceptor = new Acceptor(listener, name);
        this.loop = new IoLoop("rpc-" + name);
        this.acceptThread = new Thread(this::acceptLoop, "rpc-accept-" + name);
        this.acceptThread.setDaemon(true);
        long period = Math.max(50, Math.min(1000, Math.min(limits.idleTimeout().toMillis(), limits.writeTimeout().toMillis()) / 4));
        this.sweep = timer.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    public StreamRpcServer start() {
        acceptThread.start();
        return this;
    }

    /** The TCP port (0 for a Unix-domain listener). */
    public int port() {
        try {
            SocketAddress a = listener.getLocalAddress();
            return a instanceof InetSocketAddress ? ((InetSocketAddress) a).getPort() : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /** The most reply bytes that ever waited for one caller (bounded by {@link #PAUSE_READING} and one read's calls). */
    public long peakQueued() {
        return peakQueued.get();
    }

    /** Open connections, for tests and monitoring. */
    public int connectionCount() {
        return connections.size();
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel s;
            try {
                s = acceptor.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    warnings.warning("accept-" + name, () -> "accept on " + name + " failed: " + e.getMessage());
                }
                continue;
            }
            if (s == null) {
                continue; // out of descriptors: handled and logged by the acceptor
            }
            if (connections.size() >= limits.maxConnections()) {
                warnings.warning("max-" + name, () -> "refused a connection on " + name + ": already "
                        + limits.maxConnections() + " connections");
                Channels.closeQuietly(s);
                continue;
            }
            try {
                String refusal = check == null ? null : check.refuse(s);
                if (refusal != null) {
                    warnings.warning("refused-" + name, () -> "refused a connection on " + name + ": " + refusal);
                    Channels.closeQuietly(s);
                    continue;
                }
                if (!local) {
                    s.setOption(StandardSocketOptions.TCP_NODELAY, true);
                }
                s.configureBlocking(false);
                IoLoop on = placement == null ? null : placement.claim(s.getRemoteAddress());
                Connection c = new Connection(s, on != null ? on : loop);
                connections.add(c);
                if (closed) {
                    c.close();
                    continue;
                }
                c.loop.submit(c::readable);
            } catch (IOException e) {
                Channels.closeQuietly(s);
            }
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Connection c : connections) {
            long writing = c.writeStarted;
            if (writing != 0 && now - writing > limits.writeTimeout().toNanos()) {
                // replies have waited that long with none of their bytes taken
                warnings.warning("stuck-" + name, () -> "closing " + c.who() + " on " + name + ": a reply could not be written for "
                        + limits.writeTimeout().toSeconds() + " s");
                c.close();
            } else if (!local && c.owed.get() == 0 && now - c.lastActivity > limits.idleTimeout().toNanos()) {
                // (a Unix-domain caller is root's, like the kernel's upcall channel: it is never idled out)
                LOG.fine(() -> "closing idle connection from " + c.who());
                c.close();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        sweep.cancel(false);
        Channels.closeQuietly(listener);
        acceptor.close();
        for (Connection c : connections) {
            c.close();
        }
        joinQuietly(acceptThread);
        loop.close();
    }

    static void joinQuietly(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class Connection implements ReplySink {
        final SocketChannel channel;
        final InetSocketAddress peer;
        final RecordParser calls = new RecordParser(limits.maxRecordBytes());
        /** Replies not yet taken by the socket; guarded by itself (immediate replies come from the loop, deferred ones from workers). */
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        long outBytes;
        boolean writeArmed;
        /** Read interest was dropped because replies piled up; the loop only. */
        boolean readPaused;
        final AtomicInteger owed = new AtomicInteger();
        volatile long lastActivity = System.nanoTime();
        /** When replies started waiting with none of their bytes taken since; 0 when none wait. */
        volatile long writeStarted;
        volatile boolean gone;

        /** The loop that serves this connection: the service's own, or its caller's ({@link LoopPlacement}). */
        final IoLoop loop;
        final ByteBuffer readBuffer;

        Connection(SocketChannel channel, IoLoop loop) throws IOException {
            this.channel = channel;
            this.loop = loop;
            this.readBuffer = loop == StreamRpcServer.this.loop ? StreamRpcServer.this.readBuffer : ByteBuffer.allocate(16 * 1024);
            SocketAddress remote = channel.getRemoteAddress();
            this.peer = remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null;
        }

        /** On the loop: the calls that arrived, each dispatched as it completes. */
        void readable() {
            if (gone) {
                return;
            }
            ByteBuffer buf = readBuffer;
            buf.clear();
            try {
                if (channel.read(buf) < 0) {
                    close();
                    return;
                }
                buf.flip();
                lastActivity = System.nanoTime();
                calls.feed(buf, rec -> dispatcher.handle(rec, rec.length, this));
            } catch (RecordFraming.RecordTooLargeException e) {
                warnings.warning("too-large-" + name, () -> "closing " + who() + " on " + name + ": " + e.getMessage());
                close();
                return;
            } catch (IOException e) {
                LOG.fine(() -> "connection from " + who() + ": " + e.getMessage());
                close();
                return;
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "connection from " + who() + " failed", e);
                close();
                return;
            }
            synchronized (out) {
                if (outBytes > PAUSE_READING) {
                    readPaused = true; // read again once it has taken its replies
                    return;
                }
            }
            loop.onReadable(channel, this::readable);
        }

        @Override
        public boolean send(XdrWriter reply) {
            RecordFraming.putMark(reply.array(), reply.length());
            ByteBuffer b = ByteBuffer.wrap(reply.array(), 0, XdrWriter.MARK + reply.length());
            synchronized (out) {
                if (gone) {
                    return false;
                }
                if (out.isEmpty()) {
                    writeStarted = System.nanoTime();
                }
                out.add(b);
                outBytes += b.remaining();
                if (outBytes > peakQueued.get()) {
                    peakQueued.accumulateAndGet(outBytes, Math::max);
                }
                return flushLocked();
            }
        }

        /** Writes what the socket takes now; the rest when it is writable. Holding {@code out}. */
        private boolean flushLocked() {
            if (writeArmed) {
                return true;
            }
            try {
                while (!out.isEmpty()) {
                    ByteBuffer head = out.peek();
                    if (channel.write(head) > 0) {
                        writeStarted = System.nanoTime();
                        lastActivity = writeStarted;
                    }
                    if (head.hasRemaining()) {
                        writeArmed = true;
                        loop.onWritable(channel, this::writable);
                        return true;
                    }
                    out.poll();
                    outBytes -= head.limit();
                }
                writeStarted = 0;
                if (readPaused && outBytes <= PAUSE_READING / 2) {
                    readPaused = false;
                    loop.onReadable(channel, this::readable);
                }
                return true;
            } catch (IOException e) {
                closeLater();
                return false;
            }
        }

        void writable() {
            synchronized (out) {
                writeArmed = false;
                if (!gone) {
                    flushLocked();
                }
            }
        }

        @Override
        public InetSocketAddress peer() {
            return peer;
        }

        @Override
        public boolean privileged() {
            return local || ReplySink.super.privileged();
        }

        @Override
        public String who() {
            return peer != null ? org.rpctlsservd.guard.LogText.address(peer) : "a local caller";
        }

        @Override
        public void owed(int delta) {
            owed.addAndGet(delta);
            lastActivity = System.nanoTime();
        }

        /** From any thread: closes on the loop, after whatever it is doing with this connection. */
        private void closeLater() {
            gone = true;
            loop.submit(this::close);
        }

        void close() {
            gone = true;
            loop.forget(channel);
            Channels.closeQuietly(channel);
            connections.remove(this);
        }
    }
}
