package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.bouncycastle.tls.TlsServerProtocol;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.TlsSession;
import org.rpctlsservd.rpc.AuthSys;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.rpc.XdrWriter;

/**
 * One client connection of the front end and its backend connection, doing what the FreeBSD
 * kernel does for an RPC-over-TLS transport: answer the STARTTLS probe, hand the socket to the
 * handshake with a CONNECT upcall, then relay records both ways under the result's rules
 * (DISABLED, CERTUSER) and the --require policy. Everything but the upcall completions runs on the
 * front end's I/O thread, so this object needs no locks of its own; the TLS state is the
 * session's and is used under the session's monitor.
 */
final class ClientConnection {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    enum State { PLAIN, HANDSHAKING, TLS, CLOSED }

    private final FrontEnd fe;
    final SocketChannel client;
    private final SocketChannel backend;
    final InetSocketAddress peer;
    private final RecordParser fromClient;
    private final RecordParser fromBackend;
    private final Outbound toClient;
    private final Outbound toBackend;
    private final List<byte[]> heldForClient = new ArrayList<>();
    private long heldBytes;
    /** Back-pressure: a side that does not read stops the other side being read, so queues stay bounded. */
    static final long HIGH_WATER = 8L * 1024 * 1024;
    private static final long LOW_WATER = 1024L * 1024;
    private boolean clientReadPaused;
    private boolean backendReadPaused;
    private boolean startTlsWhenFlushed;
    State state = State.PLAIN;
    private long cookie;
    private TlsSession session;
    private int flags;
    private int uid;
    private int[] gids = new int[0];
    private boolean trimLogged;
    volatile long lastActivity = System.nanoTime();

    ClientConnection(FrontEnd fe, SocketChannel client, SocketChannel backend, InetSocketAddress peer) {
        this.fe = fe;
        this.client = client;
        this.backend = backend;
        this.peer = peer;
        this.fromClient = new RecordParser(fe.maxRecord);
        this.fromBackend = new RecordParser(fe.maxRecord);
        this.toClient = new Outbound(client, "client", () -> {
            if (backendReadPaused) {
                backendReadPaused = false;
                armBackendRead();
            }
        });
        this.toBackend = new Outbound(backend, "backend", () -> {
            if (clientReadPaused) {
                clientReadPaused = false;
                armClientRead();
            }
        });
    }

    /** Bytes waiting for one side, written without blocking; queued bytes are bounded by back-pressure. */
    private final class Outbound {
        private final SocketChannel channel;
        private final String side;
        private final Runnable drained;
        private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();
        long bytes;
        private boolean armed;

        Outbound(SocketChannel channel, String side, Runnable drained) {
            this.channel = channel;
            this.side = side;
            this.drained = drained;
        }

        void add(ByteBuffer b) {
            queue.add(b);
            bytes += b.remaining();
            fe.peakQueued.accumulateAndGet(bytes, Math::max);
        }

        boolean isEmpty() {
            return queue.isEmpty();
        }

        /** Writes what the socket takes now and waits for the rest; false when the connection failed. */
        boolean flush() {
            if (state == State.CLOSED) {
                return false;
            }
            if (armed) {
                return true; // the rest goes when the socket is writable
            }
            try {
                while (!queue.isEmpty()) {
                    ByteBuffer head = queue.peek();
                    channel.write(head);
                    if (head.hasRemaining()) {
                        armed = true;
                        fe.io.onWritable(channel, () -> {
                            armed = false;
                            afterWritable();
                        });
                        return true;
                    }
                    queue.poll();
                    bytes -= head.limit();
                    lastActivity = System.nanoTime();
                }
            } catch (IOException e) {
                teardown(side + " write failed: " + e.getMessage());
                return false;
            }
            if (bytes < LOW_WATER) {
                drained.run();
            }
            return true;
        }

        private void afterWritable() {
            if (this == toClient) {
                flushClient();
            } else {
                flush();
            }
        }
    }

    State state() {
        return state;
    }

    void start() {
        armClientRead();
        armBackendRead();
    }

    // ---- from the client ----

    private void clientReadable() {
        if (state != State.PLAIN && state != State.TLS) {
            return;
        }
        ByteBuffer buf = readSome(client, "the client");
        if (buf == null) {
            return;
        }
        try {
            if (state == State.PLAIN) {
                fromClient.feed(buf, this::onClientRecord);
            } else {
                boolean closeNotify = decrypt(buf);
                if (closeNotify) {
                    closeNotifyReceived();
                    return;
                }
            }
        } catch (IOException e) {
            teardown("bad input from the client: " + e.getMessage());
            return;
        }
        armClientRead();
    }

    /** What {@code ch} has now, in the shared read buffer; null when it ended (the connection is torn down). */
    private ByteBuffer readSome(SocketChannel ch, String side) {
        ByteBuffer buf = fe.readBuffer();
        try {
            if (ch.read(buf) < 0) {
                teardown(side + " closed the connection");
                return null;
            }
        } catch (IOException e) {
            teardown(side + ": read failed: " + e.getMessage());
            return null;
        }
        lastActivity = System.nanoTime();
        buf.flip();
        return buf;
    }

    private void armClientRead() {
        if (state != State.PLAIN && state != State.TLS) {
            return;
        }
        if (toBackend.bytes >= HIGH_WATER) {
            clientReadPaused = true; // resumed when the backend has taken enough
            fe.pauses.incrementAndGet();
            return;
        }
        fe.io.onReadable(client, this::clientReadable);
    }

    private void armBackendRead() {
        if (state == State.CLOSED) {
            return;
        }
        if (toClient.bytes + heldBytes >= HIGH_WATER) {
            backendReadPaused = true; // resumed when the client has taken enough
            fe.pauses.incrementAndGet();
            return;
        }
        fe.io.onReadable(backend, this::backendReadable);
    }

    /** Offers TLS records to the session; passes on application data; true when a close_notify came. */
    private boolean decrypt(ByteBuffer encrypted) throws IOException {
        List<byte[]> plain = new ArrayList<>();
        boolean closed;
        synchronized (session) {
            TlsServerProtocol p = session.protocol();
            if (encrypted != null) {
                p.offerInput(encrypted.array(), encrypted.position(), encrypted.remaining());
            }
            int avail;
            while ((avail = p.applicationDataAvailable()) > 0) {
                byte[] b = new byte[avail];
                int got = p.readApplicationData(b, 0, avail);
                plain.add(got == avail ? b : Arrays.copyOf(b, got));
            }
            closed = p.isClosed();
            drainTlsOutput(p);
        }
        for (byte[] b : plain) {
            fromClient.feed(ByteBuffer.wrap(b), this::onClientRecord);
        }
        flushClient();
        return closed;
    }

    private void drainTlsOutput(TlsServerProtocol p) {
        int avail;
        while ((avail = p.getAvailableOutputBytes()) > 0) {
            ByteBuffer out = ByteBuffer.allocate(avail);
            p.readOutput(out, avail);
            out.flip();
            toClient.add(out);
        }
    }

    private void onClientRecord(byte[] rec) {
        if (state == State.CLOSED) {
            return;
        }
        XdrReader r = new XdrReader(rec, 0, rec.length);
        CallHeader h = CallHeader.decode(r, flavor -> true);
        switch (h.problem) {
            case NOT_A_CALL:
                if (h.messageType == 1) {
                    toBackend(rec); // a reply to one of the backend's callbacks
                }
                return;
            case TRUNCATED:
            case RPC_MISMATCH:
                toBackend(rec); // the backend answers what it makes of it
                return;
            case BAD_CRED:
            case BAD_VERF:
                answer(Replies.authError(h.xid, h.authStatus()));
                return;
            default:
                break;
        }
        if (h.credFlavor == CallHeader.AUTH_TLS) {
            boolean probe = state == State.PLAIN && h.procedure == 0 && h.credLength == 0
                    && h.verfFlavor == OncRpcAuthType.ONCRPC_AUTH_NONE && h.verfLength == 0 && r.remaining() == 0;
            if (!probe) {
                answer(Replies.authError(h.xid, OncRpcAuthStatus.ONCRPC_AUTH_BADCRED));
                return;
            }
            if (fromClient.midRecord()) {
                teardown("bytes after the STARTTLS probe before its reply");
                return;
            }
            answer(Replies.startTls(h.xid));
            startTlsWhenFlushed = true;
            flushClient();
            return;
        }
        if (state == State.TLS && (flags & HandshakeOutcome.FLAGS_DISABLED) != 0
                && (h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX || h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_SHORT
                        || h.credFlavor == CallHeader.RPCSEC_GSS)) {
            answer(Replies.authError(h.xid, OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDCRED));
            return;
        }
        if (h.procedure != 0 && level().ordinal() < fe.require.ordinal()) {
            answer(Replies.authError(h.xid, OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK));
            return;
        }
        if (state == State.TLS && h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX
                && (flags & (HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_CERTUSER) {
            h.decodeAuthSys(rec);
            if (h.authSys == null) {
                answer(Replies.authError(h.xid, OncRpcAuthStatus.ONCRPC_AUTH_BADCRED));
                return;
            }
            rec = rewrite(rec, h);
        }
        toBackend(rec);
    }

    /** What this connection has reached, in --require's terms. */
    private Config.Require level() {
        if (state != State.TLS) {
            return Config.Require.NONE;
        }
        if ((flags & (HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_CERTUSER) {
            return Config.Require.CERTUSER;
        }
        if ((flags & HandshakeOutcome.FLAGS_VERIFIED) != 0) {
            return Config.Require.CERT;
        }
        return Config.Require.TLS;
    }

    /** The call with its AUTH_SYS credential replaced by the certificate's user (at most 16 groups). */
    private byte[] rewrite(byte[] rec, CallHeader h) {
        int primary = gids.length > 0 ? gids[0] : 0;
        int[] rest = gids.length > 1 ? Arrays.copyOfRange(gids, 1, gids.length) : new int[0];
        if (rest.length > CallHeader.MAX_AUTH_SYS_GIDS) {
            if (!trimLogged) {
                trimLogged = true;
                LOG.info("front end " + peer + ": user uid " + Integer.toUnsignedString(uid) + " has " + rest.length
                        + " supplementary groups; AUTH_SYS carries the first " + CallHeader.MAX_AUTH_SYS_GIDS);
            }
            rest = Arrays.copyOf(rest, CallHeader.MAX_AUTH_SYS_GIDS);
        }
        AuthSys mapped = new AuthSys(h.authSys.stamp, h.authSys.machineName, uid, primary, rest);
        XdrWriter body = new XdrWriter(128);
        mapped.encodeBody(body);
        int credStart = h.credOffset - 8;
        int afterCred = h.credOffset + ((h.credLength + 3) & ~3);
        byte[] b = body.toByteArray();
        ByteBuffer out = ByteBuffer.allocate(credStart + 8 + b.length + (rec.length - afterCred));
        out.put(rec, 0, credStart).putInt(OncRpcAuthType.ONCRPC_AUTH_UNIX).putInt(b.length).put(b);
        out.put(rec, afterCred, rec.length - afterCred);
        return out.array();
    }

    private void closeNotifyReceived() {
        state = State.CLOSED; // no more records either way; the upcalls finish the job
        fe.upcalls.handleRecord(cookie).whenComplete((r, e) -> fe.io.submit(() -> finish("client sent close_notify")));
    }

    // ---- to the client ----

    /** A reply made here (not by the backend). */
    private void answer(byte[] reply) {
        toClientRecord(reply);
    }

    private void toClientRecord(byte[] rec) {
        if (state == State.HANDSHAKING) {
            heldForClient.add(rec);
            heldBytes += rec.length;
            return;
        }
        if (state == State.CLOSED) {
            return;
        }
        ByteBuffer framed = RecordParser.framed(rec);
        if (state == State.PLAIN) {
            toClient.add(framed);
        } else {
            try {
                synchronized (session) {
                    TlsServerProtocol p = session.protocol();
                    p.writeApplicationData(framed.array(), 0, framed.limit());
                    drainTlsOutput(p);
                }
            } catch (IOException e) {
                teardown("TLS write failed: " + e.getMessage());
                return;
            }
        }
        flushClient();
    }

    private void flushClient() {
        if (!toClient.flush()) {
            return;
        }
        if (startTlsWhenFlushed && toClient.isEmpty()) {
            startTlsWhenFlushed = false;
            startTls();
        }
    }

    // ---- the handshake ----

    private void startTls() {
        state = State.HANDSHAKING;
        cookie = fe.handoff.park(client);
        fe.upcalls.connect(cookie).whenComplete((res, err) -> fe.io.submit(() -> connected(res, err)));
    }

    private void connected(ConnectResult res, Throwable err) {
        if (err != null || res == null) {
            Throwable cause = err instanceof java.util.concurrent.CompletionException ? err.getCause() : err;
            boolean ours = fe.handoff.withdraw(cookie, client);
            LOG.info("front end " + peer + ": CONNECT upcall failed: " + (cause == null ? "no result" : cause.getMessage()));
            if (!ours && cause instanceof java.util.concurrent.TimeoutException) {
                // the daemon took the socket and has not answered: make sure no session is left behind
                fe.upcalls.disconnect(cookie);
            }
            closeAll();
            return;
        }
        TlsSession s = (TlsSession) fe.sessions.get(cookie);
        if (s == null || state == State.CLOSED) {
            if (s != null) {
                fe.upcalls.disconnect(cookie);
            }
            closeAll();
            return;
        }
        session = s;
        flags = res.flags;
        uid = res.uid;
        gids = res.gids;
        fe.handshakes.incrementAndGet();
        state = State.TLS;
        try {
            // The client's first calls may have come with its Finished: the handshake kept them.
            boolean closeNotify = decrypt(null);
            List<byte[]> held = new ArrayList<>(heldForClient);
            heldForClient.clear();
            heldBytes = 0;
            for (byte[] rec : held) {
                toClientRecord(rec);
            }
            if (closeNotify) {
                closeNotifyReceived();
                return;
            }
        } catch (IOException e) {
            teardown("bad input from the client: " + e.getMessage());
            return;
        }
        armClientRead();
    }

    // ---- the backend ----

    private void toBackend(byte[] rec) {
        toBackend.add(RecordParser.framed(rec));
        toBackend.flush();
    }

    private void backendReadable() {
        if (state == State.CLOSED) {
            return;
        }
        ByteBuffer buf = readSome(backend, "the backend");
        if (buf == null) {
            return;
        }
        try {
            fromBackend.feed(buf, this::toClientRecord);
        } catch (IOException e) {
            teardown("bad input from the backend: " + e.getMessage());
            return;
        }
        armBackendRead();
    }

    // ---- the end ----

    /** Closes both sides; a TLS connection gets its DISCONNECT upcall, which closes the client socket. */
    void teardown(String reason) {
        if (state == State.CLOSED) {
            return;
        }
        LOG.fine(() -> "front end " + peer + ": closing: " + reason);
        state = State.CLOSED;
        finish(reason);
    }

    private void finish(String reason) {
        if (session != null) {
            long c = cookie;
            fe.disconnects.incrementAndGet();
            fe.upcalls.disconnect(c).whenComplete((r, e) -> fe.io.submit(this::closeAll));
            session = null;
        } else {
            closeAll();
        }
    }

    private void closeAll() {
        state = State.CLOSED;
        fe.io.forget(client);
        fe.io.forget(backend);
        FrontEnd.closeQuietly(client);
        FrontEnd.closeQuietly(backend);
        fe.connections.remove(this);
    }
}
