package org.rpctlsservd.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.XdrAble;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;

/**
 * An ONC-RPC client over one connection (TCP or Unix-domain) with many calls in flight, replies
 * matched by xid (Remote Tea's client allows one call at a time per connection). It lives on an
 * event loop and never blocks it: the connection is made, written and read without blocking, and
 * a call made from the loop's own thread goes out with no thread hand-off. Every call has a
 * deadline; calls in flight on a lost connection fail at once, and the next call connects again.
 * At most {@link #MAX_IN_FLIGHT} calls wait for replies; past that a call fails at once.
 */
public final class AsyncRpcClient implements Closeable {
    private static final Logger LOG = Logger.getLogger(AsyncRpcClient.class.getName());
    static final int MAX_IN_FLIGHT = 65_536;
    private static final int MAX_REPLY = 64 * 1024;

    private final SocketAddress server;
    private final int program;
    private final int version;
    private final ScheduledExecutorService timer;
    private final IoLoop loop;
    private final boolean ownLoop;
    private final LoopPlacement placement;
    private final AtomicInteger xids = new AtomicInteger(new SecureRandom().nextInt());
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** The connection; only the loop's thread touches it. */
    private Connection connection;

    /** An accepted reply other than SUCCESS, or a denied one. */
    public static final class RpcErrorException extends IOException {
        private static final long serialVersionUID = 1L;

        /** The accept_stat of a call not accepted, else -1. */
        private final int acceptStat;

        RpcErrorException(String message) {
            this(message, -1);
        }

        RpcErrorException(String message, int acceptStat) {
            super(message);
            this.acceptStat = acceptStat;
        }

        public int acceptStat() {
            return acceptStat;
        }
    }

    /** With an event loop of its own, a thread named {@code rpc-client}. */
    public AsyncRpcClient(SocketAddress server, int program, int version, ScheduledExecutorService timer) throws IOException {
        this(server, program, version, timer, null);
    }

    /** {@code server}: a TCP address or a Unix-domain socket's; {@code loop}: where it lives (null: a loop of its own). */
    public AsyncRpcClient(SocketAddress server, int program, int version, ScheduledExecutorService timer, IoLoop loop)
            throws IOException {
        this(server, program, version, timer, loop, null);
    }

    /**
     * {@code placement}: for a Unix-domain server in this process, its connections are announced
     * there, bound to {@code <server path>.<loop's thread name>}, so that the server serves them on
     * {@code loop} too (null: not).
     */
    public AsyncRpcClient(SocketAddress server, int program, int version, ScheduledExecutorService timer, IoLoop loop,
            LoopPlacement placement) throws IOException {
        this.placement = placement;
        this.server = server;
        this.program = program;
        this.version = version;
        this.timer = timer;
        this.ownLoop = loop == null;
        this.loop = loop == null ? new IoLoop("rpc-client") : loop;
    }

    private static final class Pending {
        final CompletableFuture<XdrReader> future = new CompletableFuture<>();
        Connection on;
    }

    /** One connection and what waits to be written on it. */
    private final class Connection {
        final SocketChannel channel;
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        final RecordParser replies = new RecordParser(MAX_REPLY);
        final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
        boolean connected;
        boolean writeArmed;
        boolean dead;

        Connection() throws IOException {
            channel = server instanceof InetSocketAddress ? SocketChannel.open() : SocketChannel.open(StandardProtocolFamily.UNIX);
            Path announced = null;
            try {
                channel.configureBlocking(false);
                if (server instanceof InetSocketAddress) {
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                } else if (placement != null) {
                    announced = announce(channel);
                }
                connected = channel.connect(server); // a Unix-domain socket connects at once or fails
            } catch (IOException e) {
                channel.close();
                if (announced != null) {
                    placement.withdraw(announced); // never to be accepted
                }
                throw new IOException("cannot connect to " + server + ": " + e.getMessage(), e);
            } finally {
                if (announced != null) {
                    Files.deleteIfExists(announced); // the name stays with the socket; the file is not needed
                }
            }
            if (connected) {
                loop.onReadable(channel, this::readable);
            } else {
                ScheduledFuture<?> giveUp = loop.later(timer, 5, TimeUnit.SECONDS, () -> {
                    if (!connected) {
                        die(new IOException("no connection to " + server + " within 5 s"));
                    }
                });
                loop.onConnectable(channel, () -> {
                    giveUp.cancel(false);
                    finishConnect();
                });
            }
        }

        /** Binds {@code ch} to the name under which the server expects this loop's connection; null when it cannot. */
        private Path announce(SocketChannel ch) {
            Path path = Path.of(((UnixDomainSocketAddress) server).getPath() + "." + loop.name());
            try {
                Files.deleteIfExists(path); // left by a daemon that died
                placement.expect(path, loop);
                ch.bind(UnixDomainSocketAddress.of(path));
                return path;
            } catch (IOException | RuntimeException e) {
                placement.withdraw(path);
                LOG.fine(() -> "connecting to " + server + " unnamed: " + e.getMessage()); // served all the same, on the server's loop
                return null;
            }
        }

        void finishConnect() {
            if (dead) {
                return;
            }
            try {
                if (!channel.finishConnect()) {
                    loop.onConnectable(channel, this::finishConnect);
                    return;
                }
            } catch (IOException e) {
                die(new IOException("cannot connect to " + server + ": " + e.getMessage(), e));
                return;
            }
            connected = true;
            loop.onReadable(channel, this::readable);
            flush();
        }

        void send(ByteBuffer call) {
            out.add(call);
            flush();
        }

        void flush() {
            if (dead || !connected || writeArmed) {
                return;
            }
            try {
                while (!out.isEmpty()) {
                    ByteBuffer head = out.peek();
                    channel.write(head);
                    if (head.hasRemaining()) {
                        writeArmed = true; // the service is slow to read: wait, never block the loop
                        loop.onWritable(channel, () -> {
                            writeArmed = false;
                            flush();
                        });
                        return;
                    }
                    out.poll();
                }
            } catch (IOException e) {
                die(new IOException("connection to " + server + " lost: " + e.getMessage(), e));
            }
        }

        void readable() {
            if (dead) {
                return;
            }
            in.clear();
            try {
                if (channel.read(in) < 0) {
                    die(new IOException("connection to " + server + " closed"));
                    return;
                }
                in.flip();
                replies.feed(in, AsyncRpcClient.this::reply);
            } catch (IOException e) {
                die(new IOException("connection to " + server + " lost: " + e.getMessage(), e));
                return;
            }
            loop.onReadable(channel, this::readable);
        }

        void die(IOException why) {
            if (dead) {
                return;
            }
            dead = true;
            LOG.fine(() -> why.getMessage());
            loop.forget(channel);
            Channels.closeQuietly(channel);
            for (Map.Entry<Integer, Pending> e : pending.entrySet()) {
                if (e.getValue().on == this && pending.remove(e.getKey(), e.getValue())) {
                    e.getValue().future.completeExceptionally(why);
                }
            }
        }
    }

    /** On the loop: one reply record. */
    private void reply(byte[] rec) {
        XdrReader r = new XdrReader(rec, 0, rec.length);
        try {
            int xid = r.xdrDecodeInt();
            Pending p = pending.remove(xid);
            if (p == null) {
                return; // a reply after its call timed out
            }
            try {
                decodeReply(r);
                p.future.complete(r);
            } catch (IOException | OncRpcException e) {
                p.future.completeExceptionally(e instanceof IOException ? e : new IOException(e.getMessage(), e));
            }
        } catch (OncRpcException e) {
            LOG.fine(() -> "a reply too short for its xid from " + server);
        }
    }

    /** Checks the reply header and leaves the reader at the result. */
    static void decodeReply(XdrReader r) throws OncRpcException, IOException {
        int type = r.xdrDecodeInt();
        if (type != 1) {
            throw new RpcErrorException("not a reply");
        }
        int replyStat = r.xdrDecodeInt();
        if (replyStat == 0) {
            r.xdrDecodeInt(); // verifier flavor
            int len = r.xdrDecodeInt();
            r.skipOpaque(len);
            int accept = r.xdrDecodeInt();
            if (accept != 0) {
                throw new RpcErrorException("call not accepted: " + org.rpctlsservd.guard.LogText.acceptStat(accept), accept);
            }
        } else {
            int reject = r.xdrDecodeInt();
            throw new RpcErrorException("call denied: " + (reject == 1 ? org.rpctlsservd.guard.LogText.authStat(r.xdrDecodeInt())
                    : org.rpctlsservd.guard.LogText.rejectStat(reject)));
        }
    }

    /** On the loop: the live connection, made when there is none. */
    private Connection connection() throws IOException {
        if (closed) {
            throw new IOException("client closed");
        }
        if (connection == null || connection.dead) {
            connection = new Connection();
        }
        return connection;
    }

    /**
     * Makes the connection now rather than at the first call: a channel made at start-up is there
     * when it is needed most, for example when the process is out of file descriptors. Waits at
     * most 5 s; never call it on the loop's own thread.
     */
    public void connect() throws IOException {
        CompletableFuture<Void> made = new CompletableFuture<>();
        loop.submit(() -> {
            try {
                connection();
                made.complete(null);
            } catch (IOException e) {
                made.completeExceptionally(e);
            }
        });
        try {
            made.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof IOException ? (IOException) e.getCause() : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (TimeoutException e) {
            throw new IOException("no connection to " + server + " within 5 s");
        }
    }

    /** Calls {@code procedure}; the result is decoded into what {@code result} makes. Never blocks. */
    public <T extends XdrAble> CompletableFuture<T> call(int procedure, XdrAble args, Supplier<T> result, Duration timeout) {
        CompletableFuture<T> out = new CompletableFuture<>();
        int xid = xids.incrementAndGet();
        XdrWriter w;
        try {
            w = RpcMessages.call(xid, program, version, procedure, args);
        } catch (OncRpcException | IOException e) {
            out.completeExceptionally(e);
            return out;
        }
        RecordFraming.putMark(w.array(), w.length());
        ByteBuffer framed = ByteBuffer.wrap(w.array(), 0, XdrWriter.MARK + w.length());
        if (pending.size() >= MAX_IN_FLIGHT) {
            out.completeExceptionally(new IOException(MAX_IN_FLIGHT + " calls to " + server + " wait for replies already"));
            return out;
        }
        Pending p = new Pending();
        pending.put(xid, p);
        ScheduledFuture<?> timeoutTask = timer.schedule(() -> {
            if (pending.remove(xid, p)) {
                p.future.completeExceptionally(new TimeoutException("no reply to xid " + Integer.toUnsignedString(xid)
                        + " within " + timeout.toMillis() + " ms"));
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        p.future.whenComplete((reader, failure) -> {
            timeoutTask.cancel(false);
            if (failure != null) {
                out.completeExceptionally(failure);
                return;
            }
            try {
                T t = result.get();
                t.xdrDecode(reader);
                out.complete(t);
            } catch (OncRpcException | IOException | RuntimeException e) {
                out.completeExceptionally(new IOException("cannot decode the result: " + e.getMessage(), e));
            }
        });
        Runnable send = () -> {
            if (p.future.isDone()) {
                return; // timed out before it could go
            }
            try {
                Connection c = connection();
                p.on = c;
                c.send(framed);
            } catch (IOException e) {
                if (pending.remove(xid, p)) {
                    p.future.completeExceptionally(e);
                }
            }
        };
        if (loop.inLoop()) {
            send.run();
        } else {
            loop.submit(send);
        }
        return out;
    }

    @Override
    public void close() {
        closed = true;
        CompletableFuture<Void> done = new CompletableFuture<>();
        loop.submit(() -> {
            if (connection != null) {
                connection.die(new IOException("client closed"));
            }
            done.complete(null);
        });
        try {
            done.get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.fine(() -> "closing the RPC client: " + e);
        }
        for (Integer xid : pending.keySet()) {
            Pending p = pending.remove(xid);
            if (p != null) {
                p.future.completeExceptionally(new IOException("client closed"));
            }
        }
        if (ownLoop) {
            loop.close();
        }
    }
}
