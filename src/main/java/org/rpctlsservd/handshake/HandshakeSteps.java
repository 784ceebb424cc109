package org.rpctlsservd.handshake;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.NamedGroup;
import org.bouncycastle.tls.ProtocolName;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsProtocol;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.metrics.Metrics.Failure;
import org.rpctlsservd.records.RecordLayer;
import org.rpctlsservd.sessions.Cookies;

/**
 * One handshake's socket stepping, the same for the server's side ({@link TlsEngine}) and the
 * client's ({@link ClientEngine}): Bouncy Castle's non-blocking protocol object fed on the
 * handshake workers, writing each flight, reading the peer's next one (a few reads inline, then
 * waiting in the workers' selectors, holding no worker), against a deadline. Steps never overlap:
 * each arms the next. The side says what a finished handshake means ({@link #completed}) and what
 * a failed one leaves behind ({@link #failed}); its set-up assigns {@link #protocol} and calls
 * {@link #afterStep} for the first flight.
 */
abstract class HandshakeSteps {
    static final int READ_CHUNK = 16 * 1024;
    /** Reads a handshake may make on a worker before it waits on the selector (the peer's flight, the Finished, and slack). */
    static final int INLINE_READS = 4;
    /** At most this many bytes of ChangeCipherSpec records are kept back from the workers (one is usual). */
    static final int MAX_HELD = 64;
    /**
     * Each worker's read buffer: a handshake's read is offered to its engine (which copies it) before
     * the step ends. Room for a record kept from the last read (at most the largest) and a read after it.
     */
    private static final ThreadLocal<ByteBuffer> READ_BUFFER =
            ThreadLocal.withInitial(() -> ByteBuffer.allocate(RecordLayer.MAX_RECORD + READ_CHUNK));

    final SocketChannel ch;
    final Steps workers;
    /** When the CONNECT upcall arrived (System.nanoTime): the deadline and the audit's ms count from there. */
    final long started;
    final CompletableFuture<HandshakeOutcome> future = new CompletableFuture<>();
    final AtomicBoolean done = new AtomicBoolean();
    /** The other side in messages: "the client" or "the server". */
    final String other;
    TlsProtocol protocol;
    ScheduledFuture<?> deadline;
    private ByteBuffer pendingOut;
    private int inlineReads;
    /** Bytes read and kept for the next read (a lone ChangeCipherSpec, a cut record; after the handshake, what followed it), or null. */
    private ByteBuffer arrived;
    /** Made once per handshake, not once per wait. */
    private final Runnable onReadable = this::readable;
    private final Runnable onWritable = this::writable;

    HandshakeSteps(SocketChannel ch, Steps workers, long started, String other) {
        this.ch = ch;
        this.workers = workers;
        this.started = started;
        this.other = other;
    }

    /** True once Bouncy Castle said the handshake is complete. */
    abstract boolean complete();

    /** The fatal alert sent or received, in words, or null. */
    abstract String alert();

    /** On the worker whose step completed the handshake: check the peer, then {@link #settle} and complete {@link #future}. */
    abstract void completed();

    /** After a failure was settled, before {@link #future} fails: the side's bookkeeping, audit line and metrics. */
    abstract void failed(Failure kind, String reason);

    /** Arms the deadline, counted from {@link #started}. */
    final void armDeadline(ScheduledExecutorService timer, Duration limit) {
        long left = limit.toNanos() - (System.nanoTime() - started);
        deadline = timer.schedule(() -> fail(Failure.TIMEOUT, "no handshake within " + limit.toMillis() + " ms", null),
                Math.max(0, left), TimeUnit.NANOSECONDS);
    }

    /**
     * Sends what the last step produced, then finishes or waits for the peer. Reads that may find
     * the peer's next bytes already there are taken in this loop, not by calling back into it: a
     * chain of calls (step, send, read, step...) made the JIT compile Bouncy Castle's whole
     * handshake into each of our methods, twice over, and again after every deoptimisation.
     */
    final void afterStep() {
        while (!done.get()) {
            try {
                pendingOut = TlsSession.output(protocol);
                if (pendingOut != null) {
                    ch.write(pendingOut);
                    if (pendingOut.hasRemaining()) {
                        workers.onWritable(ch, onWritable);
                        return;
                    }
                }
            } catch (IOException e) {
                fail(Failure.IO, "writing to " + other + " failed: " + LogText.why(e, other), e);
                return;
            }
            // after a flight went out the answer is a round trip away: no read to try
            if (!proceed(pendingOut == null) || !readStep()) {
                return;
            }
        }
    }

    private void writable() {
        if (done.get()) {
            return;
        }
        try {
            ch.write(pendingOut);
            if (pendingOut.hasRemaining()) {
                workers.onWritable(ch, onWritable);
            } else {
                proceed(false);
            }
        } catch (IOException e) {
            fail(Failure.IO, "writing to " + other + " failed: " + LogText.why(e, other), e);
        }
    }

    /**
     * After a step or a write, on a worker: checks the peer and finishes, or waits for the peer;
     * true when the caller should read now instead. {@code tryRead}: the step sent nothing, so more
     * of the peer's flight may be there already.
     */
    private boolean proceed(boolean tryRead) {
        if (complete()) {
            completed(); // on this worker: no second trip through the queue
        } else if (protocol.isClosed()) {
            String a = alert();
            fail(Failure.TLS, a != null ? a : "the TLS layer closed during the handshake", null);
        } else if (tryRead && inlineReads < INLINE_READS) {
            inlineReads++; // bounds the reads one turn on a worker makes
            return true;
        } else {
            workers.onReadable(ch, onReadable);
        }
        return false;
    }

    /** On a worker, when the socket is readable: the next step, and what follows it. */
    private void readable() {
        if (readStep()) {
            afterStep();
        }
    }

    /**
     * On a worker, when the socket is readable or may be (a ClientHello usually came before the
     * CONNECT upcall did): read and offer it to the engine (true: a step was taken), or wait. A
     * lone ChangeCipherSpec (the compatibility record TLS 1.3 peers send, which Bouncy Castle
     * ignores) is kept until the next record comes: a step for it alone would only wait again.
     * Bouncy Castle is offered whole records, one at a time, until the handshake is complete: what
     * follows the peer's Finished (the first calls, sent in its flight) stays here for the session's
     * record layer ({@link #leftover}), and a record cut by the read waits for its rest here.
     */
    private boolean readStep() {
        if (done.get()) {
            return false;
        }
        ByteBuffer buf = READ_BUFFER.get().clear(); // Bouncy Castle copies what it is offered: one buffer per worker will do
        try {
            if (arrived != null) {
                buf.put(arrived.flip());
                arrived = null;
            }
            int n = ch.read(buf);
            if (n < 0) {
                fail(Failure.PEER_CLOSED, other + " closed the connection during the handshake", null);
                return false;
            } else if (n == 0 || onlyChangeCipherSpec(buf.array(), buf.position(), MAX_HELD)) {
                keep(buf, 0);
                workers.onReadable(ch, onReadable);
                return false;
            }
        } catch (IOException e) {
            fail(Failure.IO, "reading from " + other + " failed: " + LogText.why(e, other), e);
            return false;
        }
        byte[] b = buf.array();
        int end = buf.position();
        int at = 0;
        try {
            while (at < end && !complete() && !protocol.isClosed()) {
                int whole = wholeRecord(b, at, end);
                if (whole == 0) {
                    break;
                }
                protocol.offerInput(b, at, whole);
                at += whole;
            }
        } catch (IOException e) {
            flushAlert();
            String a = alert();
            fail(Failure.TLS, a != null ? a : "TLS error: " + LogText.why(e, other), e);
            return false;
        }
        keep(buf, at);
        if (at == 0) {
            workers.onReadable(ch, onReadable); // only part of a record: its rest is still to come
            return false;
        }
        return true;
    }

    /** Keeps the bytes of {@code buf} from {@code from} (to its position) for the next read, which may run on another worker: a copy. */
    private void keep(ByteBuffer buf, int from) {
        int n = buf.position() - from;
        arrived = n == 0 ? null : ByteBuffer.allocate(n).put(buf.array(), from, n);
    }

    /**
     * What the peer sent after its Finished, read with it and not offered to Bouncy Castle (records
     * for the session's record layer, the last perhaps cut), once, in read mode; null when nothing.
     * Only after the handshake completed.
     */
    final ByteBuffer leftover() {
        ByteBuffer l = arrived;
        arrived = null;
        return l == null ? null : l.flip();
    }

    /**
     * The length of the whole record at {@code at} (before {@code end}), 0 when it is cut off there;
     * everything left when its header cannot start a record the handshake may take (not a TLS
     * content type, or longer than any protected record): Bouncy Castle refuses it at once, rather
     * than the deadline after a wait for bytes that never make a record.
     */
    static int wholeRecord(byte[] b, int at, int end) {
        int left = end - at;
        if (left < 5) {
            return b[at] < 20 || b[at] > 24 ? left : 0;
        }
        int length = (b[at + 3] & 0xff) << 8 | b[at + 4] & 0xff;
        if (b[at] < 20 || b[at] > 24 || length > RecordLayer.MAX_CIPHERTEXT) {
            return left;
        }
        return left < 5 + length ? 0 : 5 + length;
    }

    /** Best effort: let the peer see the fatal alert Bouncy Castle queued. */
    final void flushAlert() {
        try {
            ByteBuffer b = TlsSession.output(protocol);
            if (b != null) {
                ch.write(b);
            }
        } catch (IOException e) {
            // the connection is being dropped anyway
        }
    }

    /**
     * Claims the outcome for the caller: false when the handshake was already decided (the
     * deadline, a failure). Stops the deadline and the waiting; the socket stays open.
     */
    final boolean settle() {
        if (!done.compareAndSet(false, true)) {
            return false;
        }
        if (deadline != null) {
            deadline.cancel(false);
        }
        workers.release(ch); // the socket goes on to a session, or is closed
        return true;
    }

    /** Ends the handshake as failed (once): the socket closed, the side told, the future failed with {@code reason}. */
    final void fail(Failure kind, String reason, Throwable cause) {
        if (!settle()) {
            return;
        }
        Channels.closeQuietly(ch); // closing after a failure
        failed(kind, reason);
        future.completeExceptionally(cause != null ? new IOException(reason, cause) : new IOException(reason));
    }

    /** The audit line's start: "handshake peer=ADDRESS TAG" ({@code role} "peer" on the server's side, "server" on the client's). */
    static StringBuilder auditLine(String role, InetSocketAddress peer, long cookie) {
        StringBuilder b = new StringBuilder("handshake ").append(role).append('=');
        b.append(LogText.address(peer));
        b.append(' ').append(Cookies.tag(cookie)); // never the cookie itself: it is a capability
        return b;
    }

    /** The audit line's flags: " flags=0x05(...)", with the flags' names. */
    static void appendFlags(StringBuilder b, int flags) {
        b.append(" flags=0x").append(flags < 0x10 ? "0" : "").append(Integer.toHexString(flags)); // no Formatter per handshake
        b.append('(').append(HandshakeOutcome.flagNames(flags)).append(')');
    }

    /** The audit line's end: the reason in quotes when there is one, then the milliseconds since {@link #started}. */
    final void appendEnd(StringBuilder b, String reason) {
        if (reason != null) {
            b.append(" reason=\"").append(reason.replace('"', '\'')).append('"');
        }
        b.append(" ms=").append(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** The audit line's TLS part: " version=TLS1.3 suite=.. group=.. alpn=..", nothing before any was negotiated. */
    static void appendTls(StringBuilder b, SecurityParameters sp) {
        if (sp != null && sp.getNegotiatedVersion() != null) {
            b.append(" version=").append(sp.getNegotiatedVersion().getName().replace(" ", ""));
            b.append(" suite=").append(TlsPolicy.suiteName(sp.getCipherSuite()));
            if (sp.getNegotiatedGroup() >= 0) {
                b.append(" group=").append(NamedGroup.getName(sp.getNegotiatedGroup()));
            }
            ProtocolName alpn = sp.getApplicationProtocol();
            b.append(" alpn=").append(alpn == null ? "none" : alpn.getUtf8Decoding());
        }
    }

    /** The audit line's certificate part: the peer's leaf, or " cert=none". */
    static void appendCertificate(StringBuilder b, List<X509CertificateHolder> chain) {
        if (chain.isEmpty()) {
            b.append(" cert=none");
        } else {
            X509CertificateHolder c = chain.get(0);
            b.append(" cert.subject=\"").append(Dn.oneline(c.getSubject())).append('"');
            b.append(" cert.issuer=\"").append(Dn.oneline(c.getIssuer())).append('"');
            b.append(" cert.serial=").append(c.getSerialNumber().toString(16));
            b.append(" cert.sha256=").append(sha256(c));
        }
    }

    /** "TLSv1.3" as OpenSSL names the negotiated version, for the session. */
    static String versionName(SecurityParameters sp) {
        return sp == null || sp.getNegotiatedVersion() == null ? "TLSv1.3" : sp.getNegotiatedVersion().getName().replace(" ", "v");
    }

    /** The ALPN protocol agreed, or null. */
    static String alpnName(SecurityParameters sp) {
        return sp == null || sp.getApplicationProtocol() == null ? null : sp.getApplicationProtocol().getUtf8Decoding();
    }

    private static String sha256(X509CertificateHolder c) {
        try {
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()));
        } catch (NoSuchAlgorithmException | IOException e) {
            return "?";
        }
    }

    /**
     * True when the first {@code length} bytes of {@code b} are one or more whole TLS records of
     * type change_cipher_spec and nothing else, {@code max} bytes at most (more goes on to the
     * engine, which refuses what TLS 1.3 does not allow). Read by hand: five-byte record headers.
     */
    static boolean onlyChangeCipherSpec(byte[] b, int length, int max) {
        if (length == 0 || length > max) {
            return false;
        }
        int at = 0;
        while (at < length) {
            if (length - at < 5 || b[at] != 20) {
                return false;
            }
            int body = ((b[at + 3] & 0xff) << 8) | (b[at + 4] & 0xff);
            at += 5 + body;
        }
        return at == length;
    }
}
