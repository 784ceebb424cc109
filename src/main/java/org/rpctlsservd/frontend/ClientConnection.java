package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Refusal;
import org.rpctlsservd.proxy.ProxyHeader;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.RecordParser;
import org.rpctlsservd.rpc.RpcMessages;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.guard.LogText;

/**
 * One client connection of the front end and its backend connection, doing what the FreeBSD
 * kernel does for an RPC-over-TLS transport: answer the STARTTLS probe, hand the socket to the
 * handshake with a CONNECT upcall, then relay records both ways under the result's rules
 * (DISABLED, CERTUSER) and the --require policy. Everything runs on the connection's own event
 * loop, so this object needs no locks of its own; the TLS state is behind {@link EstablishedSession}'s door.
 *
 * <p>Its stages, in the order bytes meet them: from the client, {@link RecordParser} assembles
 * calls (decrypted by the session first, once TLS is up) and {@link CallPolicy} decides on each
 * (relay, rewrite, refuse, start TLS); the upcalls ({@link Upcalls}) park the socket and hand it
 * to the handshake; {@link BackendConnect} opens the backend connection when the first call must
 * go; from the backend, bytes pass as they come while {@link RecordMarks} finds
 * where records end, so the front end's own replies go between them; each side's bytes wait in
 * an {@link Outbound}. This class wires them and owns the connection's state and teardown.
 *
 * <p>Memory: each side's outbound queue is bounded whoever fills it (relayed records, the front
 * end's own replies, TLS output): past {@link #HIGH_WATER} the side producing for it is no
 * longer read. What the connection holds is reported to the front end's global budget; at its
 * limit the front end closes the connections holding the most unfinished memory (never pausing
 * anyone's reads: see {@link FrontEnd#shedIfOver}). A side that stops taking bytes is closed after
 * the write timeout. The backend connection is made, without blocking, when the first call must be
 * relayed: a client that only probes or says nothing costs the backend nothing.
 */
final class ClientConnection implements Member {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    enum State { PLAIN, HANDSHAKING, TLS, CLOSED }

    /** The shared services as its event loop shows them; every callback of it runs on that loop, for its life. */
    private final ConnectionServices loop;
    private final IoLoop io;
    private final SocketChannel client;
    private final BackendConnect backend;
    /** The record whose relaying opens the backend connection (named in the log if that is refused). */
    private CallHeader opening;
    /** The client: the socket's peer, or the source a trusted balancer's PROXY header named. */
    InetSocketAddress peer;
    /** What the client connected to: this socket's local address, or the destination of the PROXY header. */
    private InetSocketAddress destination;
    /** The PROXY stage, until it has decided (then null); a trusted balancer's header must come within a deadline. */
    private ProxyIntake intake;
    private java.util.concurrent.ScheduledFuture<?> proxyDeadline;
    /** The PROXY header for the backend (--backend-proxy) is queued. */
    private boolean backendProxySent;
    private final RecordParser fromClient;
    /** The backend's bytes are passed on as they come; this only tracks where its records end. */
    private final RecordMarks fromBackend;
    private final Outbound toClient;
    private final Outbound toBackend;
    /** Bytes for the client (record-marked) held while the handshake runs, to go encrypted after it. */
    private final List<byte[]> heldForClient = new ArrayList<>();
    private long heldBytes;
    /** The front end's own replies, waiting for the backend's stream to reach the end of a record. */
    private final ArrayDeque<OwnReply> ownReplies = new ArrayDeque<>();
    private long ownReplyBytes;
    /** Back-pressure: a side that does not read stops the other side being read, so queues stay bounded. */
    static final long HIGH_WATER = 1024L * 1024;
    private static final long LOW_WATER = 256L * 1024;
    /**
     * What a connection costs beyond its queues (its objects, sockets and keys, the backend
     * connection, the session's entry); with TLS, Bouncy Castle's protocol state too. Measured as
     * live heap after a full GC per idle connection that relayed one call (HostileLoadIT's
     * idle-session attack, which fails when these drift from the heap by more than half): 2,758
     * bytes plain, 12,935 with TLS 1.3 (they were 8 and 64 KiB, guesses, and 2,100 idle TLS clients
     * tripped a 128 MiB budget). A partial TLS record inside Bouncy Castle (up to 16 KiB) is not counted.
     */
    static final long PLAIN_OVERHEAD = 2_600;
    static final long TLS_OVERHEAD = 12_800;
    private static final long BUFFER_OVERHEAD = Outbound.BUFFER_OVERHEAD;
    private boolean clientReadPaused;
    private boolean backendReadPaused;
    /** The bytes last reported to the front end's budget (read by the front end's shedding scan, on any loop). */
    private volatile long reported;
    /** Of those, the bytes of a client record not yet complete. */
    private volatile long unfinished;
    /** Why another loop marked it to be closed (the log's reason). */
    private volatile String markedReason;

    /** What this connection has earned ({@link Member#UNEARNED}...). */
    private volatile int earned = UNEARNED;
    private final long acceptedAt = System.nanoTime();
    /** When bytes last came from the client. */
    private volatile long lastFromClient = acceptedAt;
    /** Set when the connection is gone: nobody can mark it after that (its marks would never be taken back). */
    private static final Doom GONE = new Doom(null, 0);

    /** Set once, from any loop, when the front end decided to close this connection to protect the others. */
    private final java.util.concurrent.atomic.AtomicReference<Doom> doomed = new java.util.concurrent.atomic.AtomicReference<>();
    private boolean startTlsWhenFlushed;
    /** The STARTTLS probe was answered (its reply may still wait in {@link #ownReplies}): no second one. */
    private boolean probeAnswered;

    /** A reply made here; the STARTTLS one is the last in clear text. */
    private record OwnReply(byte[] message, boolean startsTls) {
    }
    private volatile State state = State.PLAIN;
    private long cookie;
    private EstablishedSession session;
    private volatile int flags;
    private int uid;
    private int[] gids = new int[0];
    private boolean trimLogged;
    private volatile long lastActivity = System.nanoTime();

    ClientConnection(ConnectionServices loop, SocketChannel client, InetSocketAddress peer, InetSocketAddress backendAddress) {
        this.loop = loop;
        this.io = loop.io();
        this.client = client;
        this.peer = peer;
        this.intake = new ProxyIntake(loop.trustsProxy(peer.getAddress()));
        try {
            this.destination = (InetSocketAddress) client.getLocalAddress();
        } catch (IOException e) {
            this.destination = new InetSocketAddress(0);
        }
        this.fromClient = new RecordParser(loop.settings().maxRecord());
        this.fromBackend = new RecordMarks(loop.settings().maxRecord());
        this.toClient = new Outbound(io, "the client", LOW_WATER, () -> {
            if (backendReadPaused) {
                backendReadPaused = false;
                armBackendRead();
            }
            resumeClientRead(); // the client's own replies may have held it
        }, () -> {
            flushClient();
            account();
        }, this::teardown, n -> {
            progressed();
            Metrics.toClient(n);
        }, this::closed, loop.stats().peakQueuedCounter());
        this.toBackend = new Outbound(io, "the backend", LOW_WATER, this::resumeClientRead, this::backendWritable,
                this::teardown, n -> {
                    progressed();
                    Metrics.toBackend(n);
                }, this::closed, loop.stats().peakQueuedCounter());
        toClient.open(client);
        this.backend = new BackendConnect(loop, this, backendAddress, this::backendConnected, this::teardown, this::closed,
                this::sourcePortsExhausted);
    }

    /** From any thread: marks this connection to be closed for {@code why}; false when it was marked already. */
    @Override
    public boolean doom(org.rpctlsservd.metrics.Metrics.Shed why, long held) {
        if (!doomed.compareAndSet(null, new Doom(why, held))) {
            return false;
        }
        Metrics.shed(why);
        loop.stats().shed(why);
        return true;
    }

    @Override
    public boolean doomed() {
        return doomed.get() != null;
    }

    /** Why and with how many bytes it was marked, or null. */
    Doom doom() {
        Doom d = doomed.get();
        return d == GONE ? null : d;
    }

    @Override
    public Doom gone() {
        Doom d = doomed.getAndSet(GONE);
        return d == GONE ? null : d;
    }

    @Override
    public void closeSoon(String reason) {
        io.submit(() -> teardown(reason));
    }

    /** Earned enough not to be the first one closed when room must be made. */
    private void earn(int level) {
        if (earned < level) {
            earned = level;
        }
    }

    private void backendWritable() {
        toBackend.flush();
        account();
    }

    @Override
    public boolean closed() {
        return state == State.CLOSED;
    }

    private void progressed() {
        lastActivity = System.nanoTime();
    }

    private void resumeClientRead() {
        if (clientReadPaused) {
            clientReadPaused = false;
            armClientRead();
        }
    }

    State state() {
        return state;
    }

    void start() {
        if (intake.expectsHeader()) {
            long nanos = loop.settings().proxyHeaderNanos();
            proxyDeadline = loop.later(nanos, TimeUnit.NANOSECONDS, () -> {
                if (intake != null) {
                    loop.warnings().warning("proxy-slow", () -> "front end " + LogText.address(peer) + ": no PROXY header within "
                            + TimeUnit.NANOSECONDS.toMillis(nanos) + " ms: closed");
                    teardown("no PROXY header in time");
                }
            });
        }
        clientReadable(); // the client's first call (its probe) has usually arrived already: no wait for it
        account();
    }

    /** Reports what this connection holds now to the front end's budget; past its limit, the front end sheds. */
    private void account() {
        long now = state == State.CLOSED ? 0
                : forClient() + toBackend.footprint() + fromClient.footprint()
                        + (session != null || state == State.HANDSHAKING ? TLS_OVERHEAD : PLAIN_OVERHEAD);
        long grew = now - reported;
        unfinished = state == State.CLOSED || !fromClient.midRecord() ? 0 : fromClient.footprint();
        reported = now;
        loop.accounted(this, grew);
    }

    /** What waits for the client: its queue, what is held while the handshake runs, and our own replies not yet placed. */
    private long forClient() {
        return toClient.footprint() + heldBytes + BUFFER_OVERHEAD * heldForClient.size() + ownReplyBytes
                + BUFFER_OVERHEAD * ownReplies.size();
    }

    /** The sweep: a side that took no bytes for the write timeout is given up. */
    @Override
    public void checkStuck(long now, long writeTimeoutNanos) {
        if (state == State.CLOSED) {
            return;
        }
        for (Outbound o : new Outbound[] {toClient, toBackend}) {
            if (o.stuckFor(now, writeTimeoutNanos)) {
                teardown(o.side + " took no bytes for " + TimeUnit.NANOSECONDS.toSeconds(writeTimeoutNanos) + " s (" + o.bytes
                        + " bytes waiting)");
                return;
            }
        }
    }

    // ---- from the client ----

    private void clientReadable() {
        if (state != State.PLAIN && state != State.TLS) {
            return;
        }
        Doom d = doom();
        if (d != null) {
            teardown("closed to protect the others: " + d.why().label()); // never read again
            return;
        }
        ByteBuffer buf = readSome(client, "the client");
        if (buf == null) {
            return;
        }
        lastFromClient = lastActivity;
        try {
            if (state == State.PLAIN) {
                if (intake != null && !passIntake(buf)) {
                    return; // torn down, or more of the header to come (read armed again)
                }
                fromClient.feed(buf, this::onClientRecord);
            } else {
                boolean closeNotify = decrypt(buf);
                if (closeNotify) {
                    closeNotifyReceived();
                    return;
                }
            }
        } catch (IOException e) {
            clientFailed(e);
            return;
        } finally {
            account();
        }
        armClientRead();
    }

    /** What the client sent could not be taken: bad input, or a session shut off meanwhile. */
    private void clientFailed(IOException e) {
        teardown(e instanceof EstablishedSession.ShutOffException ? e.getMessage() : "bad input from the client: " + LogText.why(e, "the client"));
    }

    /**
     * The PROXY stage ({@link ProxyIntake}): true once it is over and {@code buf} holds the client's
     * own bytes; false while more of a header is to come (read is armed again) or when the
     * connection was refused (it is torn down).
     */
    private boolean passIntake(ByteBuffer buf) throws IOException {
        if (!intake.expectsHeader() && !buf.hasRemaining()) {
            return true; // nothing to judge yet
        }
        switch (intake.offer(buf)) {
            case MORE:
                armClientRead();
                return false;
            case BAD:
                String problem = intake.problem();
                loop.warnings().warning("proxy-bad", () -> "front end " + LogText.address(peer) + ": bad PROXY header: " + problem + ": closed");
                teardown("bad PROXY header: " + problem);
                return false;
            case NOT_BELIEVED:
                loop.warnings().warning("proxy-untrusted", () -> "front end " + LogText.address(peer) + ": a PROXY header from an address "
                        + "--accept-proxy-from does not name: not believed, closed");
                teardown("PROXY header from an untrusted peer");
                return false;
            case PASS:
                intake = null;
                return true;
            default: // DONE: what follows is the client's, whatever it looks like
                ProxyHeader.Parsed h = intake.header();
                ByteBuffer rest = intake.rest();
                intake = null;
                proxyDeadline.cancel(false);
                if (h.source() != null) {
                    InetSocketAddress balancer = peer;
                    peer = h.source();
                    destination = h.destination();
                    LOG.fine(() -> "front end " + LogText.address(peer) + ": by PROXY header from " + LogText.address(balancer));
                }
                fromClient.feed(rest, this::onClientRecord);
                return state != State.CLOSED;
        }
    }

    /** The PROXY header that begins the backend connection: the client's address, and with v2 its TLS. */
    private byte[] backendProxyHeader() {
        if (loop.settings().backendProxy() == 1) {
            return ProxyHeader.v1(peer, destination);
        }
        ProxyHeader.Tls tls = null;
        if (session != null) {
            List<org.bouncycastle.cert.X509CertificateHolder> verified = session.verifiedChain();
            String cn = verified.isEmpty() ? null : Dn.commonName(verified.get(0).getSubject());
            tls = new ProxyHeader.Tls(session.version(), (flags & HandshakeOutcome.FLAGS_GOTCERT) != 0,
                    (flags & (HandshakeOutcome.FLAGS_VERIFIED | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_VERIFIED,
                    cn, session.alpn()); // a DISABLED connection's certificate does not count as verified (as with --require cert)
        }
        return ProxyHeader.v2(peer, destination, tls);
    }

    /** What {@code ch} has now, in the shared read buffer; null when it ended (the connection is torn down). */
    private ByteBuffer readSome(SocketChannel ch, String side) {
        ByteBuffer buf = loop.readBuffer();
        try {
            if (ch.read(buf) < 0) {
                teardown(side + " closed the connection");
                return null;
            }
        } catch (IOException e) {
            teardown("reading from " + side + " failed: " + LogText.why(e, side));
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
        if (toBackend.footprint() >= HIGH_WATER || toClient.footprint() >= HIGH_WATER) {
            clientReadPaused = true; // resumed when the side it fills has taken enough
            loop.stats().paused();
            return;
        }
        io.onReadable(client, this::clientReadable);
    }

    private void armBackendRead() {
        if (state == State.CLOSED || !backend.connected()) {
            return;
        }
        if (forClient() >= HIGH_WATER) {
            backendReadPaused = true; // resumed when the client has taken enough
            loop.stats().paused();
            return;
        }
        io.onReadable(backend.channel(), this::backendReadable);
    }

    /** Offers TLS records to the session; passes on application data; true when a close_notify came. */
    private boolean decrypt(ByteBuffer encrypted) throws IOException {
        List<ByteBuffer> plain = new ArrayList<>();
        boolean closed = session.decrypt(encrypted, (b, off, len) -> plain.add(ByteBuffer.wrap(b, off, len)), this::queueTls);
        for (ByteBuffer b : plain) {
            fromClient.feed(b, this::onClientRecord);
        }
        flushClient();
        return closed;
    }

    /** TLS records the session made for the client. */
    private void queueTls(byte[] b, int off, int len) {
        toClient.add(ByteBuffer.wrap(b, off, len));
    }

    private void onClientRecord(byte[] rec) {
        if (state == State.CLOSED) {
            return;
        }
        XdrReader r = new XdrReader(rec, 0, rec.length);
        CallHeader h = CallHeader.decode(r, flavor -> true);
        CallPolicy.Decision d = CallPolicy.decide(h, r.remaining() == 0, state == State.TLS, flags,
                state == State.PLAIN && !probeAnswered, loop.settings().require());
        switch (d.action()) {
            case DROP:
                if (d.why() != null) {
                    refused(h, d); // sent before the connection met --require: never relayed, opens no backend connection
                }
                return;
            case REFUSE:
                refused(h, d);
                answer(RpcMessages.authError(h.xid, d.authStat()));
                return;
            case START_TLS:
                if (fromClient.midRecord()) {
                    teardown("bytes after the STARTTLS probe before its reply");
                    return;
                }
                probeAnswered = true;
                earn(EARNED);
                reply(new OwnReply(RpcMessages.startTls(h.xid), true));
                return;
            case RELAY_AS_CERTIFICATE_USER:
                h.decodeAuthSys(rec);
                if (h.authSys == null) {
                    CallPolicy.Decision bad = CallPolicy.Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_BADCRED, Refusal.BAD_CREDENTIAL);
                    refused(h, bad);
                    answer(RpcMessages.authError(h.xid, bad.authStat()));
                    return;
                }
                earn(EARNED);
                toBackend(rewrite(rec, h), h);
                return;
            case RELAY:
            default:
                earn(EARNED);
                toBackend(rec, h);
        }
    }

    /**
     * Logs and counts a refused call or a dropped record. The flags alone do not tell a certificate the
     * allow-list refused from one that did not verify; the session's check does, and says why.
     */
    private void refused(CallHeader h, CallPolicy.Decision d) {
        TrustMaterial.Verification v = session == null ? null : session.verification();
        Refusal why = d.why() == Refusal.NOT_VERIFIED && v != null && v.notAllowed() ? Refusal.NOT_ALLOWED : d.why();
        loop.refusals().refused(peer, h, why, () -> {
            java.util.StringJoiner b = new java.util.StringJoiner("; ");
            if ((why == Refusal.NOT_VERIFIED || why == Refusal.NOT_ALLOWED) && v != null && v.reason() != null) {
                b.add(v.reason());
            }
            if (d.action() == CallPolicy.Action.REFUSE) {
                b.add("answered " + LogText.authName(d.authStat()));
            }
            if (d.action() == CallPolicy.Action.DROP || d.authStat() == OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK) {
                b.add("--require " + loop.settings().require().name().toLowerCase(java.util.Locale.ROOT));
            } else if (why == Refusal.DISABLED) {
                b.add("only AUTH_NONE calls pass");
            } else if (h.credFlavor == CallHeader.AUTH_TLS && h.problem == CallHeader.Problem.NONE) {
                b.add("AUTH_TLS out of place (a second STARTTLS probe, one inside TLS, or one with a body)");
            }
            return b.toString();
        });
    }

    /** The call as the certificate's user; a user in more groups than AUTH_SYS carries is logged once per connection. */
    private byte[] rewrite(byte[] rec, CallHeader h) {
        if (CallPolicy.groupsTrimmed(gids) && !trimLogged) {
            trimLogged = true;
            int n = gids.length - 1;
            loop.warnings().info("groups-trimmed", () -> "front end " + LogText.address(peer) + ": user uid " + Integer.toUnsignedString(uid) + " has " + n
                    + " supplementary groups; AUTH_SYS carries the first " + CallHeader.MAX_AUTH_SYS_GIDS);
        }
        return CallPolicy.asCertificateUser(rec, h, uid, gids);
    }

    @Override
    public void portHeir(java.util.function.Consumer<SourcePorts.Lease> heir) {
        backend.portHeir(heir);
    }

    @Override
    public boolean meetsRequire() {
        return CallPolicy.level(state == State.TLS, flags).ordinal() >= loop.settings().require().ordinal();
    }

    @Override
    public boolean holdsPortTo(InetSocketAddress b) {
        return backend.holdsPortTo(b);
    }

    /** Every source port toward the backend is in use: the call that needed the connection is refused (the connection closes). */
    private void sourcePortsExhausted(String why) {
        loop.refusals().refused(peer, opening, Refusal.SOURCE_PORTS, () -> why);
    }

    private void closeNotifyReceived() {
        state = State.CLOSED; // no more records either way; the upcalls finish the job
        // HANDLERECORD and then DISCONNECT, back to back: the service takes a connection's calls in order,
        // so the session answers the close_notify before it is closed, and no round trip is waited for
        loop.upcalls().handleRecord(cookie);
        finish("client sent close_notify");
    }

    // ---- to the client ----

    /** A reply made here (not by the backend). */
    private void answer(byte[] reply) {
        reply(new OwnReply(reply, false));
    }

    /** Our replies go in order, between the backend's records, never inside one. */
    private void reply(OwnReply r) {
        ownReplies.add(r);
        ownReplyBytes += r.message().length;
        if (fromBackend.atBoundary()) {
            placeOwnReplies();
        }
        flushClient();
    }

    /** Our own replies that waited for the end of the backend's record. */
    private void placeOwnReplies() {
        OwnReply r;
        while ((r = ownReplies.poll()) != null) {
            ownReplyBytes -= r.message().length;
            ByteBuffer framed = RecordParser.framed(r.message());
            toClientBytes(framed.array(), 0, framed.limit());
            if (r.startsTls()) {
                startTlsWhenFlushed = true; // from here on what is for the client waits for the handshake
            }
        }
    }

    /**
     * Record-marked bytes for the client: queued as they are on a plain connection, encrypted on a
     * TLS one, held (copied) from the STARTTLS reply until the handshake is done.
     */
    private void toClientBytes(byte[] b, int off, int len) {
        if (state == State.CLOSED || len == 0) {
            return;
        }
        if (state == State.HANDSHAKING || startTlsWhenFlushed) {
            heldForClient.add(Arrays.copyOfRange(b, off, off + len));
            heldBytes += len;
            return;
        }
        if (state == State.PLAIN) {
            toClient.add(ByteBuffer.wrap(Arrays.copyOfRange(b, off, off + len)));
            return;
        }
        try {
            session.encrypt(b, off, len, this::queueTls);
        } catch (IOException e) {
            teardown("TLS write failed: " + LogText.why(e, "the client"));
        }
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
        earned = BUSY;
        cookie = loop.park(client, peer); // the daemon's audit line and -h check name the client, not a balancer
        loop.upcalls().connect(cookie).whenComplete((res, err) -> onLoop(() -> connected(res, err)));
    }

    private void connected(ConnectResult res, Throwable err) {
        if (err != null || res == null) {
            Throwable cause = err instanceof java.util.concurrent.CompletionException ? err.getCause() : err;
            boolean ours = loop.withdraw(cookie, client);
            if (cause instanceof org.rpctlsservd.rpc.AsyncRpcClient.RpcErrorException rpc
                    && rpc.acceptStat() == org.acplt.oncrpc.OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR) {
                // the handshake failed, and the daemon's audit line for it said why: no second line
                LOG.fine(() -> "front end " + LogText.address(peer) + ": CONNECT upcall answered " + LogText.acceptStat(rpc.acceptStat()));
            } else {
                loop.warnings().info("upcall-failed", () -> "front end " + LogText.address(peer) + ": CONNECT upcall failed: "
                        + (cause == null ? "no result" : LogText.why(cause, "the RPCTLSSD service")));
            }
            if (!ours && cause instanceof java.util.concurrent.TimeoutException) {
                // the daemon took the socket and has not answered: make sure no session is left behind
                loop.upcalls().disconnect(cookie);
            }
            closeAll();
            return;
        }
        EstablishedSession s = loop.established(cookie);
        if (s == null || state == State.CLOSED) {
            if (s != null) {
                loop.upcalls().disconnect(cookie);
            }
            closeAll();
            return;
        }
        session = s;
        flags = res.flags;
        uid = res.uid;
        gids = res.gids;
        loop.stats().handshake();
        state = State.TLS;
        earned = TLS_SESSION;
        // A reload or CRL that shuts the session off cuts the client off at once: nothing it sends
        // after that moment reaches the backend (decrypt refuses it), and both sides are closed.
        s.whenShutOff(() -> closeSoon("certificate no longer accepted: shut off")); // never inline: this method goes on
        try {
            // The client's first calls may have come with its Finished: the handshake kept them.
            boolean closeNotify = decrypt(null);
            List<byte[]> held = new ArrayList<>(heldForClient);
            heldForClient.clear();
            heldBytes = 0;
            for (byte[] b : held) {
                toClientBytes(b, 0, b.length);
            }
            flushClient();
            if (closeNotify) {
                closeNotifyReceived();
                return;
            }
        } catch (IOException e) {
            clientFailed(e);
            return;
        } finally {
            account();
        }
        armClientRead();
    }

    // ---- the backend ----

    private void toBackend(byte[] rec, CallHeader h) {
        if (loop.settings().backendProxy() != 0 && !backendProxySent) {
            backendProxySent = true; // the first bytes the backend sees, before any record
            toBackend.add(ByteBuffer.wrap(backendProxyHeader()));
        }
        // the mark and the record as two buffers of one gathering write: a 1 MiB WRITE is not copied again
        toBackend.add(RecordParser.markOf(rec.length));
        toBackend.add(ByteBuffer.wrap(rec));
        if (!backend.connected()) {
            if (opening == null) {
                opening = h;
            }
            backend.start(); // the queued records go once it is connected
            return;
        }
        toBackend.flush();
    }

    private void backendConnected() {
        toBackend.open(backend.channel());
        toBackend.flush();
        armBackendRead();
        account();
    }

    private void backendReadable() {
        if (state == State.CLOSED) {
            return;
        }
        ByteBuffer buf = readSome(backend.channel(), "the backend");
        if (buf == null) {
            return;
        }
        try {
            // Passed on as read, many replies in one TLS record when they came together; split only
            // where one of our own replies waits for the end of the backend's record.
            while (buf.hasRemaining() && state != State.CLOSED) {
                int start = buf.position();
                int n = fromBackend.advance(buf, !ownReplies.isEmpty());
                toClientBytes(buf.array(), start, n);
                if (fromBackend.atBoundary()) {
                    placeOwnReplies();
                }
            }
        } catch (IOException e) {
            teardown("bad input from the backend: " + LogText.why(e, "the backend"));
            return;
        } finally {
            account();
        }
        flushClient();
        armBackendRead();
    }

    // ---- the end ----

    /** Closes both sides; a TLS connection gets its DISCONNECT upcall, which closes the client socket. */
    @Override
    public void teardown(String reason) {
        if (state == State.CLOSED) {
            return;
        }
        LOG.fine(() -> "front end " + LogText.address(peer) + ": closing: " + reason);
        toClient.lastWrite(); // an alert the session made for the client (bad_record_mac, say) goes if it can
        state = State.CLOSED;
        finish(reason);
    }

    private void finish(String reason) {
        if (session != null) {
            long c = cookie;
            loop.stats().disconnect();
            loop.upcalls().disconnect(c).whenComplete((r, e) -> onLoop(this::closeAll));
            session = null;
        } else {
            closeAll();
        }
    }

    /** Runs {@code r} on this connection's loop: at once when already there (an upcall answered on it). */
    private void onLoop(Runnable r) {
        if (io.inLoop()) {
            r.run();
        } else {
            io.submit(r);
        }
    }

    private void closeAll() {
        state = State.CLOSED;
        if (proxyDeadline != null) {
            proxyDeadline.cancel(false);
        }
        io.forget(client);
        Channels.closeQuietly(client);
        Runnable waitingForPermit = backend.waitingForPermit();
        backend.close();
        account(); // its bytes go back before its mark does (Shedding.markedBytes)
        loop.forget(this, waitingForPermit);
    }

    // ---- as the shared services see it (Member) ----

    @Override
    public int earned() {
        return earned;
    }

    @Override
    public long lastActivity() {
        return lastActivity;
    }

    @Override
    public long lastFromClient() {
        return lastFromClient;
    }

    @Override
    public long acceptedAt() {
        return acceptedAt;
    }

    @Override
    public long reported() {
        return reported;
    }

    @Override
    public long unfinished() {
        return unfinished;
    }

    @Override
    public boolean handshaking() {
        return state == State.HANDSHAKING;
    }

    @Override
    public boolean tls() {
        return state == State.TLS;
    }

    @Override
    public void markForClose(String reason) {
        markedReason = reason;
        loop.markForClose(this);
    }

    @Override
    public String markedReason() {
        return markedReason;
    }

    @Override
    public boolean inLoop() {
        return io.inLoop();
    }

    @Override
    public void closeClientSocket() {
        Channels.closeQuietly(client);
    }
}
