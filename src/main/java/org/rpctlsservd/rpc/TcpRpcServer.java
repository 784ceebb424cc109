package org.rpctlsservd.rpc;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * ONC-RPC over TCP: one accept thread, one reader thread per connection (capped), a write lock
 * per connection shared by immediate and deferred replies, a record size cap, and a sweeper that
 * closes idle connections and writes stuck behind a peer that stopped reading.
 */
public final class TcpRpcServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(TcpRpcServer.class.getName());

    private final ServerSocket listener;
    private final RpcDispatcher dispatcher;
    private final ServerLimits limits;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final Thread acceptThread;
    private final ScheduledFuture<?> sweep;
    private final AtomicInteger serial = new AtomicInteger();
    private volatile boolean closed;

    public TcpRpcServer(ServerSocket listener, RpcDispatcher dispatcher, ServerLimits limits, ScheduledExecutorService timer) {
        this.listener = listener;
        this.dispatcher = dispatcher;
        this.limits = limits;
        this.acceptThread = new Thread(this::acceptLoop, "rpc-tcp-accept-" + listener.getLocalPort());
        long period = Math.max(50, Math.min(1000, limits.idleTimeout().toMillis() / 4));
        this.sweep = timer.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    public TcpRpcServer start() {
        acceptThread.start();
        return this;
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** Open connections, for tests and monitoring. */
    public int connectionCount() {
        return connections.size();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning("accept on port " + port() + " failed: " + e.getMessage());
                }
                continue;
            }
            if (connections.size() >= limits.maxConnections()) {
                LOG.warning("refused a connection from " + s.getRemoteSocketAddress() + ": already "
                        + limits.maxConnections() + " connections");
                closeQuietly(s);
                continue;
            }
            try {
                s.setTcpNoDelay(true);
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
                LOG.warning("closing " + c.peer + ": a reply could not be written for " + limits.writeTimeout().toSeconds() + " s");
                c.close();
            } else if (c.owed.get() == 0 && now - c.lastActivity > limits.idleTimeout().toNanos()) {
                LOG.fine(() -> "closing idle connection from " + c.peer);
                c.close();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        sweep.cancel(false);
        closeQuietly(listener);
        for (Connection c : connections) {
            c.close();
        }
        joinQuietly(acceptThread);
        for (Connection c : connections) {
            joinQuietly(c.thread);
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
        final Socket socket;
        final InetSocketAddress peer;
        final InputStream in;
        final OutputStream out;
        final Thread thread;
        final Object writeLock = new Object();
        final AtomicInteger owed = new AtomicInteger();
        volatile long lastActivity = System.nanoTime();
        volatile long writeStarted;
        volatile boolean gone;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.peer = (InetSocketAddress) socket.getRemoteSocketAddress();
            this.in = new BufferedInputStream(socket.getInputStream(), 8192);
            this.out = socket.getOutputStream();
            this.thread = new Thread(this::run, "rpc-tcp-" + port() + "-" + serial.incrementAndGet());
            this.thread.setDaemon(true);
        }

        void run() {
            try {
                while (!gone) {
                    RecordFraming.Record rec = RecordFraming.read(in, limits.maxRecordBytes());
                    if (rec == null) {
                        break;
                    }
                    lastActivity = System.nanoTime();
                    dispatcher.handle(rec.data, rec.length, this);
                }
            } catch (RecordFraming.RecordTooLargeException e) {
                LOG.warning("closing " + peer + ": " + e.getMessage());
            } catch (SocketException e) {
                // closed by us or reset by the peer
            } catch (IOException e) {
                LOG.fine(() -> "connection from " + peer + ": " + e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.SEVERE, "connection from " + peer + " failed", e);
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
                    out.write(reply.array(), 0, XdrWriter.MARK + reply.length());
                    out.flush();
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
        public void owed(int delta) {
            owed.addAndGet(delta);
            lastActivity = System.nanoTime();
        }

        void close() {
            gone = true;
            closeQuietly(socket);
            connections.remove(this);
        }
    }
}
