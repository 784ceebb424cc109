package org.rpctlsservd.records;

import static org.rpctlsservd.records.TlsAlertException.RECORD_OVERFLOW;

import java.nio.ByteBuffer;

/**
 * The record framing TLS 1.2 and 1.3 share. Reading: finding whole records in the caller's read
 * buffer, the buffer's bookkeeping (views, partial records, compaction) and the refusal that sticks;
 * a subclass checks its version's header and opens a record in place. Writing: where a record goes,
 * the views the cipher reads and writes through, and the end after our close. A base class rather
 * than a helper held by each layer: the framing calls back into the version's checks per record and
 * both sides use the same buffer state, which fields here give without an indirection on the hot path.
 */
abstract class FramedRecordLayer implements RecordLayer {
    /** The longest record body this version and suite accept. */
    final int maxCiphertext;

    // reading: the caller's buffer, two views of it (the cipher's input and output), the first unused byte
    ByteBuffer in;
    ByteBuffer inSrc;
    ByteBuffer inDst;
    // the buffer used before, with its views: a caller alternating two buffers makes no new views
    private ByteBuffer inAlt;
    private ByteBuffer inAltSrc;
    private ByteBuffer inAltDst;
    private int start;
    private TlsAlertException refused;
    /** Set by a subclass on the peer's close_notify or fatal alert. */
    boolean inboundClosed;
    private long compacted;

    // writing: views of the caller's buffers (the cipher's output, data put in place to be sealed)
    private ByteBuffer out;
    private ByteBuffer outDst;
    private ByteBuffer inPlace;
    private ByteBuffer inPlaceSrc;
    /** Set by a subclass once our close_notify or fatal alert is sealed. */
    boolean outboundClosed;

    FramedRecordLayer(int maxCiphertext) {
        this.maxCiphertext = maxCiphertext;
    }

    /** Refuses the header at {@code at} of {@link #in} for its content type (of {@code type}) or version. */
    abstract void checkTypeAndVersion(int type, int at) throws TlsAlertException;

    /** What the record_overflow alert says of {@link #maxCiphertext}, e.g. "at most 16640". */
    abstract String ciphertextBound();

    /** Opens the record of body {@code length} whose header is at {@code at} of {@link #in}, in place, and reports it to {@code to}. */
    abstract void openRecord(int at, int length, Inbound to) throws TlsAlertException;

    @Override
    public final void open(ByteBuffer buffer, Inbound to) throws TlsAlertException {
        if (refused != null) {
            throw refused;
        }
        if (buffer != in) {
            if (buffer.capacity() < MAX_RECORD) {
                throw new IllegalArgumentException("a read buffer holds at least one record of " + MAX_RECORD + " bytes");
            }
            if (start != 0) {
                throw new IllegalStateException("a partial record waits in another buffer");
            }
            use(buffer);
        }
        int end = buffer.position();
        try {
            start = openWhole(start, end, to);
        } catch (TlsAlertException e) {
            refused = e;
            inboundClosed = true;
            start = 0;
            buffer.clear();
            throw e;
        }
        if (start == end || inboundClosed) {
            // everything used, or the rest comes after the peer's close and is ignored (RFC 8446 section 6.1, RFC 5246 section 7.2.1)
            start = 0;
            buffer.clear();
        } else if (start + (end - start < HEADER ? HEADER : HEADER + lengthAt(start)) > buffer.capacity()) {
            // the record begun at start (its header checked already) would not fit behind it: to the front
            buffer.limit(end).position(start);
            buffer.compact();
            compacted += end - start;
            start = 0;
        } else {
            buffer.limit(buffer.capacity());
        }
    }

    /** Opens the whole records between {@code at} and {@code end} of the buffer in use; returns where the first one not yet whole begins. */
    private int openWhole(int at, int end, Inbound to) throws TlsAlertException {
        while (!inboundClosed && end - at >= HEADER) {
            int length = checkHeader(at);
            if (end - at < HEADER + length) {
                break;
            }
            openRecord(at, length, to);
            at += HEADER + length;
        }
        return at;
    }

    @Override
    public final void openAvailable(ByteBuffer buffer, Inbound to) throws TlsAlertException {
        if (refused != null) {
            buffer.position(buffer.limit());
            throw refused;
        }
        if (start != 0) {
            throw new IllegalStateException("a partial record waits in the buffer of open()");
        }
        if (buffer != in) {
            use(buffer);
        }
        int at = buffer.position();
        int end = buffer.limit();
        try {
            at = openWhole(at, end, to);
        } catch (TlsAlertException e) {
            refused = e;
            inboundClosed = true;
            buffer.position(end);
            throw e;
        }
        buffer.position(inboundClosed ? end : at);
    }

    /** The record length of the header at {@code at} of {@link #in}, refused when no protected record of ours may have it. */
    /** The length a record header at {@code at} announces. */
    private int lengthAt(int at) {
        return (in.get(at + 3) & 0xff) << 8 | in.get(at + 4) & 0xff;
    }

    private int checkHeader(int at) throws TlsAlertException {
        int type = in.get(at) & 0xff;
        int length = lengthAt(at);
        checkTypeAndVersion(type, at);
        if (length > maxCiphertext) {
            throw new TlsAlertException(RECORD_OVERFLOW, "a record of " + length + " bytes (" + ciphertextBound() + ")");
        }
        return length;
    }

    /** Reads from {@code buffer} from now on, through views made once per buffer (the last two are kept). */
    private void use(ByteBuffer buffer) {
        ByteBuffer b = in;
        ByteBuffer src = inSrc;
        ByteBuffer dst = inDst;
        if (buffer == inAlt) {
            in = inAlt;
            inSrc = inAltSrc;
            inDst = inAltDst;
        } else {
            in = buffer;
            inSrc = buffer.duplicate();
            inDst = buffer.duplicate();
        }
        inAlt = b;
        inAltSrc = src;
        inAltDst = dst;
    }

    // ---------------------------------------------------------------- writing

    /**
     * Where a record with a body of {@code length} bytes goes: {@code dst}'s position. Refused after
     * our close_notify or alert, and when it does not fit.
     */
    final int recordAt(ByteBuffer dst, int length) {
        if (outboundClosed) {
            throw new IllegalStateException("nothing is sealed after our close_notify or alert");
        }
        int at = dst.position();
        if (dst.remaining() < HEADER + length) {
            throw new java.nio.BufferOverflowException();
        }
        return at;
    }

    /** {@code from} to {@code to} of {@code dst}, as the view the cipher writes a record body into. */
    final ByteBuffer outView(ByteBuffer dst, int from, int to) {
        if (dst != out) {
            out = dst;
            outDst = dst.duplicate();
        }
        view(outDst, from, to);
        return outDst;
    }

    /** The {@code length} bytes the caller put at {@code dst.position() + HEADER}, as the view to seal in place. */
    final ByteBuffer inPlaceView(ByteBuffer dst, int length) {
        if (length < 0 || length > MAX_PLAINTEXT) {
            throw new IllegalArgumentException("a record of " + length + " bytes");
        }
        if (dst != inPlace) {
            inPlace = dst;
            inPlaceSrc = dst.duplicate();
        }
        int body = dst.position() + HEADER;
        view(inPlaceSrc, body, body + length);
        return inPlaceSrc;
    }

    /**
     * While the session is quiet: forgets the buffers it last wrote into, the one it read before the
     * present one, and the present one too unless a partial record waits there, so that a buffer its
     * owner replaced (a loop's heap seal room once it goes direct, HANDLERECORD's buffer of one call)
     * is not kept alive by idle sessions. Views are made again at the next use.
     */
    final void forgetViews() {
        if (start == 0) {
            in = null;
            inSrc = null;
            inDst = null;
        }
        inAlt = null;
        inAltSrc = null;
        inAltDst = null;
        out = null;
        outDst = null;
        inPlace = null;
        inPlaceSrc = null;
    }

    /** Sets {@code v} to {@code from}..{@code to} of its buffer. */
    static void view(ByteBuffer v, int from, int to) {
        v.limit(v.capacity()).position(from);
        v.limit(to);
    }

    @Override
    public final boolean inboundClosed() {
        return inboundClosed;
    }

    @Override
    public final boolean outboundClosed() {
        return outboundClosed;
    }

    /** Bytes of partial records moved to the front of the read buffer so far (the one copy reading makes). */
    public final long compactedBytes() {
        return compacted;
    }
}
