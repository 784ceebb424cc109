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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.guard.Acceptor;
import org.rpctlsservd.guard.RateLimitedLog;

/**
 * ONC-RPC over a stream socket, TCP or Unix-domain: one accept thread, one reader thread per
 * connection (capped), a write lock per connection shared by immediate and deferred replies, a
 * record size cap, and a sweeper that closes idle connections and writes stuck behind a peer that
 * stopped reading. Immediate replies are written by the reader itself, so a caller that does not
 * read its replies stops being read (its socket buffer is the bound). A Unix-domain listener
 * accepts only the peers its {@link PeerCheck} admits (by SO_PEERCRED).
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
    private final ScheduledFuture<?> sweep;
    private final AtomicInteger serial = new AtomicInteger();
    private final RateLimitedLog warnings = new RateLimitedLog(Logger.getLogger("rpctlssd"));
    private volatile boolean closed;

    /**
     * @param local true for a Unix-domain listener: its callers count as privileged, since
     *              {@code check} has admitted only root and the daemon's own user
     */
    public StreamRpcServer(ServerSocketChannel listener, String name, boolean local, PeerCheck check, RpcDispatcher dispatcher,
            ServerLimits limits, ScheduledExecutorService timer) throws IOException {
        this.listener = listener;
        this.name = name;
        this.local = local;
        this.check = check;
        this.dispatcher = dispatcher;
        this.limits = limits;
        this.acceptor = new Acceptor(listener, name);
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
                closeQuietly(s);
                continue;
            }
            try {
                String refusal = check == null ? null : check.refuse(s);
                if (refusal != null) {
                    warnings.warning("refused-" + name, () -> "refused a connection on " + name + ": " + refusal);
                    closeQuietly(s);
                    continue;
                }
                if (!local) {
                    s.setOption(StandardSocketOptions.TCP_NODELAY, true);
                }
                Connection c = new Connection(s);
                connections.add(c);
                if (closed) {
                    c.close();
                    continue;
                }
                c.thread.start();
            } catch (IOException e) {
                closeQuietly(s);
            }
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Connection c : connections) {
            long writing = c.writeStarted;
            if (writing != 0 && now - writing > limits.writeTimeout().toNanos()) {
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
        closeQuietly(listener);
        acceptor.close();
        for (Connection c : connections) {
            c.close();
        }
        joinQuietly(acceptThread);
        for (Connection c : connections) {
            joinQuietly(c.thread);
        }
    }

    /** Writes all of {@code b} to a blocking channel (the sweep cuts a write stuck behind a peer that stopped reading). */
    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static void joinQuietly(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing: nothing more to do
        }
    }

    private final class Connection implements ReplySink {
        final SocketChannel channel;
        final InetSocketAddress peer;
        final Thread thread;
        final Object writeLock = new Object();
        final AtomicInteger owed = new AtomicInteger();
        volatile long lastActivity = System.nanoTime();
        volatile long writeStarted;
        volatile boolean gone;

        Connection(SocketChannel channel) throws IOException {
            this.channel = channel;
            SocketAddress remote = channel.getRemoteAddress();
            this.peer = remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null;
            this.thread = new Thread(this::run, "rpc-" + name + "-" + serial.incrementAndGet());
            this.thread.setDaemon(true);
        }

        void run() {
            RecordParser calls = new RecordParser(limits.maxRecordBytes());
            ByteBuffer buf = ByteBuffer.allocate(8192);
            try {
                while (!gone) {
                    buf.clear();
                    if (channel.read(buf) < 0) {
                        break;
                    }
                    buf.flip();
                    lastActivity = System.nanoTime();
                    calls.feed(buf, rec -> dispatcher.handle(rec, rec.length, this));
                }
            } catch (RecordFraming.RecordTooLargeException e) {
                warnings.warning("too-large-" + name, () -> "closing " + who() + " on " + name + ": " + e.getMessage());
            } catch (IOException e) {
                LOG.fine(() -> "connection from " + who() + ": " + e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "connection from " + who() + " failed", e);
            } finally {
                close();
            }
        }

        @Override
        public boolean send(XdrWriter reply) {
            synchronized (writeLock) {
                if (gone) {
                    return false;
                }
                RecordFraming.putMark(reply.array(), reply.length());
                writeStarted = System.nanoTime();
                try {
                    writeFully(channel, ByteBuffer.wrap(reply.array(), 0, XdrWriter.MARK + reply.length()));
                    lastActivity = System.nanoTime();
                    return true;
                } catch (IOException e) {
                    close();
                    return false;
                } finally {
                    writeStarted = 0;
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
            return peer != null ? peer.toString() : "a local caller";
        }

        @Override
        public void owed(int delta) {
            owed.addAndGet(delta);
            lastActivity = System.nanoTime();
        }

        void close() {
            gone = true;
            closeQuietly(channel);
            connections.remove(this);
        }
    }
}
