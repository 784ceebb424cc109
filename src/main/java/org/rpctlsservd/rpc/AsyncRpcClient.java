package org.rpctlsservd.rpc;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.XdrAble;

/**
 * An ONC-RPC client over one TCP connection with many calls in flight, replies matched by xid
 * (Remote Tea's client allows one call at a time per connection). Every call has a deadline. The
 * connection is made on first use and again after it is lost; calls in flight on a lost
 * connection fail at once.
 */
public final class AsyncRpcClient implements Closeable {
    private static final Logger LOG = Logger.getLogger(AsyncRpcClient.class.getName());

    private final SocketAddress server;
    private final int program;
    private final int version;
    private final ScheduledExecutorService timer;
    private final int maxReplyBytes;
    private final AtomicInteger xids = new AtomicInteger(new SecureRandom().nextInt());
    private final Object lock = new Object();
    private Connection connection;
    private volatile boolean closed;

    /** An accepted reply other than SUCCESS, or a denied one. */
    public static final class RpcErrorException extends IOException {
        private static final long serialVersionUID = 1L;

        RpcErrorException(String message) {
            super(message);
        }
    }

    /** {@code server}: a TCP address or a Unix-domain socket's. */
    public AsyncRpcClient(SocketAddress server, int program, int version, ScheduledExecutorService timer) {
        this.server = server;
        this.program = program;
        this.version = version;
        this.timer = timer;
        this.maxReplyBytes = 64 * 1024;
    }

    private final class Pending {
        final CompletableFuture<XdrReader> future = new CompletableFuture<>();
    }

    private final class Connection {
        final SocketChannel socket;
        final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
        final Thread reader;
        volatile boolean dead;

        Connection() throws IOException {
            if (server instanceof InetSocketAddress) {
                socket = SocketChannel.open();
                try {
                    socket.socket().connect(server, 5000);
                    socket.setOption(StandardSocketOptions.TCP_NODELAY, true);
                } catch (IOException e) {
                    socket.close();
                    throw e;
                }
            } else {
                socket = SocketChannel.open(server); // Unix-domain: connects at once or fails
            }
            InputStream in = new BufferedInputStream(new ChannelInput(socket));
            reader = new Thread(() -> read(in), "rpc-client");
            reader.setDaemon(true);
            reader.start();
        }

        void read(InputStream in) {
            try {
                while (true) {
                    RecordFraming.Record rec = RecordFraming.read(in, maxReplyBytes);
                    if (rec == null) {
                        break;
                    }
                    XdrReader r = new XdrReader(rec.data, 0, rec.length);
                    int xid = r.xdrDecodeInt();
                    Pending p = pending.remove(xid);
                    if (p == null) {
                        continue; // a reply after its call timed out
                    }
                    try {
                        decodeReply(r);
                        p.future.complete(r);
                    } catch (IOException | OncRpcException e) {
                        p.future.completeExceptionally(e instanceof IOException ? e : new IOException(e.getMessage(), e));
                    }
                }
            } catch (IOException | OncRpcException e) {
                LOG.fine(() -> "connection to " + server + " lost: " + e.getMessage());
            } finally {
                die(new IOException("connection to " + server + " closed"));
            }
        }

        void die(IOException why) {
            dead = true;
            try {
                socket.close();
            } catch (IOException ignored) {
                // already closing
            }
            for (Integer xid : pending.keySet()) {
                Pending p = pending.remove(xid);
                if (p != null) {
                    p.future.completeExceptionally(why);
                }
            }
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
                throw new RpcErrorException("call not accepted: accept_stat " + accept);
            }
        } else {
            int reject = r.xdrDecodeInt();
            throw new RpcErrorException("call denied: reject_stat " + reject + (reject == 1 ? ", auth_stat " + r.xdrDecodeInt() : ""));
        }
    }

    /**
     * Makes the connection now rather than at the first call: a channel made at start-up is there
     * when it is needed most, for example when the process is out of file descriptors.
     */
    public void connect() throws IOException {
        synchronized (lock) {
            if (!closed && (connection == null || connection.dead)) {
                connection = new Connection();
            }
        }
    }

    /** Calls {@code procedure}; the result is decoded into what {@code result} makes. */
    public <T extends XdrAble> CompletableFuture<T> call(int procedure, XdrAble args, Supplier<T> result, Duration timeout) {
        CompletableFuture<T> out = new CompletableFuture<>();
        int xid = xids.incrementAndGet();
        XdrWriter w = new XdrWriter(128);
        w.xdrEncodeInt(xid);
        w.xdrEncodeInt(CallHeader.CALL);
        w.xdrEncodeInt(CallHeader.RPC_VERSION);
        w.xdrEncodeInt(program);
        w.xdrEncodeInt(version);
        w.xdrEncodeInt(procedure);
        w.xdrEncodeInt(0); // AUTH_NONE credential
        w.xdrEncodeInt(0);
        w.xdrEncodeInt(0); // AUTH_NONE verifier
        w.xdrEncodeInt(0);
        try {
            args.xdrEncode(w);
        } catch (OncRpcException | IOException e) {
            out.completeExceptionally(e);
            return out;
        }
        RecordFraming.putMark(w.array(), w.length());
        Connection c;
        Pending p = new Pending();
        synchronized (lock) {
            try {
                if (closed) {
                    throw new IOException("client closed");
                }
                if (connection == null || connection.dead) {
                    connection = new Connection();
                }
                c = connection;
                c.pending.put(xid, p);
                ChannelInput.writeFully(c.socket, java.nio.ByteBuffer.wrap(w.array(), 0, XdrWriter.MARK + w.length()));
            } catch (IOException e) {
                if (connection != null) {
                    connection.die(e);
                }
                out.completeExceptionally(e);
                return out;
            }
        }
        var timeoutTask = timer.schedule(() -> {
            if (c.pending.remove(xid) != null) {
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
        return out;
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            if (connection != null) {
                connection.die(new IOException("client closed"));
            }
        }
    }
}
