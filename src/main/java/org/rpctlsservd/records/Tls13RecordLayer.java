package org.rpctlsservd.records;

import static org.rpctlsservd.records.TlsAlertException.BAD_RECORD_MAC;
import static org.rpctlsservd.records.TlsAlertException.CLOSE_NOTIFY;
import static org.rpctlsservd.records.TlsAlertException.DECODE_ERROR;
import static org.rpctlsservd.records.TlsAlertException.ILLEGAL_PARAMETER;
import static org.rpctlsservd.records.TlsAlertException.INTERNAL_ERROR;
import static org.rpctlsservd.records.TlsAlertException.RECORD_OVERFLOW;
import static org.rpctlsservd.records.TlsAlertException.UNEXPECTED_MESSAGE;
import static org.rpctlsservd.records.TlsAlertException.USER_CANCELED;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;

/**
 * TLS 1.3 record protection (RFC 8446 section 5) on the JDK's AEAD ciphers, in place in the
 * caller's buffers: a record is decrypted where it was read and sealed where it will be written
 * from, with no intermediate array of ours per record. Heap or direct: SunJCE's GCM runs its
 * intrinsic on the arrays of heap buffers and goes through arrays of its own for direct ones, so
 * which is faster is for RecordLayerBench to say on each JVM. Between direct buffers, once
 * {@link NativeGcm} is loaded, application-data records of every TLS 1.3 suite are sealed and opened
 * on libcrypto instead, with no copy into arrays.
 */
public final class Tls13RecordLayer extends FramedRecordLayer {
    /** Which end we are: a server refuses a NewSessionTicket, a client (which does not resume) ignores it. */
    public enum Side { SERVER, CLIENT }

    static final int CHANGE_CIPHER_SPEC = 20;
    static final int ALERT = 21;
    static final int HANDSHAKE = 22;
    static final int APPLICATION_DATA = 23;
    static final int NEW_SESSION_TICKET = 4;
    static final int KEY_UPDATE = 24;
    /** A sealed KeyUpdate: header, the 5-byte message, the content type, the tag. */
    static final int KEY_UPDATE_RECORD = HEADER + 5 + 1 + RecordCipher.TAG;
    /**
     * Records under one key before we move it on: AES-GCM's limit is 2^24.5 full records (RFC 8446
     * section 5.5); ChaCha20-Poly1305's is far beyond, and the same rule costs it nothing.
     */
    static final long KEY_USAGE_LIMIT = 1L << 24;

    private final Side side;
    private final RecordCipher read;
    private final RecordCipher write;
    private final long keyUsageLimit;
    private final byte[] header = new byte[HEADER];

    // writing: the inner content type with its padding, small bodies
    private ByteBuffer tail = ByteBuffer.allocate(1 + 256);
    private final ByteBuffer small = ByteBuffer.allocate(5);
    private boolean keyUpdateOwed;

    private Tls13RecordLayer(Side side, TrafficSecrets secrets, long keyUsageLimit) {
        super(MAX_CIPHERTEXT);
        this.side = side;
        this.read = new RecordCipher(secrets.suite(), secrets.readSecret(), secrets.readSequence(), false);
        this.write = new RecordCipher(secrets.suite(), secrets.writeSecret(), secrets.writeSequence(), true);
        this.keyUsageLimit = keyUsageLimit;
        this.suite = secrets.suite();
    }

    private final Tls13Suite suite;

    public static Tls13RecordLayer of(Side side, TrafficSecrets secrets) {
        return new Tls13RecordLayer(side, secrets, KEY_USAGE_LIMIT);
    }

    /**
     * Taking over from a handshake engine that may owe the peer a KeyUpdate (it was asked and has
     * not answered yet): with {@code keyUpdateOwed}, ours goes before our first record.
     */
    public static Tls13RecordLayer of(Side side, TrafficSecrets secrets, boolean keyUpdateOwed) {
        Tls13RecordLayer layer = new Tls13RecordLayer(side, secrets, KEY_USAGE_LIMIT);
        layer.keyUpdateOwed = keyUpdateOwed;
        return layer;
    }

    /** With a lower key usage limit, to see the automatic KeyUpdate in tests. */
    static Tls13RecordLayer of(Side side, TrafficSecrets secrets, long keyUsageLimit) {
        return new Tls13RecordLayer(side, secrets, keyUsageLimit);
    }

    // ---------------------------------------------------------------- reading

    /** Only protected records: outer type application_data (its version is not checked). */
    @Override
    void checkTypeAndVersion(int type, int at) throws TlsAlertException {
        if (type != APPLICATION_DATA) {
            throw new TlsAlertException(UNEXPECTED_MESSAGE, type == CHANGE_CIPHER_SPEC
                    ? "a ChangeCipherSpec after the handshake" : "an unprotected record of type " + type + " after the handshake");
        }
    }

    @Override
    String ciphertextBound() {
        return "at most " + MAX_CIPHERTEXT;
    }

    @Override
    void openRecord(int at, int length, Inbound to) throws TlsAlertException {
        if (length < RecordCipher.TAG) {
            throw new TlsAlertException(BAD_RECORD_MAC, "a record of " + length + " bytes cannot hold its tag");
        }
        for (int i = 0; i < HEADER; i++) {
            header[i] = in.get(at + i);
        }
        int body = at + HEADER;
        int n;
        try {
            if (in.isDirect() && !in.isReadOnly() && opensDirect()) {
                n = read.openDirect(in, body, length); // in place, on libcrypto: no copy into an array and back
            } else {
                view(inSrc, body, body + length);
                view(inDst, body, body + length);
                read.start(header);
                n = read.finish(inSrc, inDst);
            }
        } catch (AEADBadTagException e) {
            throw new TlsAlertException(BAD_RECORD_MAC, "a record failed its authentication (forged, replayed, reordered or cut)", e);
        } catch (GeneralSecurityException e) {
            throw new TlsAlertException(INTERNAL_ERROR, "the record cipher failed", e);
        }
        if (n > MAX_PLAINTEXT + 1) {
            throw new TlsAlertException(RECORD_OVERFLOW, "an inner plaintext of " + n + " bytes (at most " + (MAX_PLAINTEXT + 1) + ")");
        }
        // the content type is the last non-zero byte; the zeros after it are padding (section 5.4)
        int p = body + n - 1;
        while (p >= body && in.get(p) == 0) {
            p--;
        }
        if (p < body) {
            throw new TlsAlertException(UNEXPECTED_MESSAGE, "a record without a content type");
        }
        int type = in.get(p) & 0xff;
        int len = p - body;
        switch (type) {
            case APPLICATION_DATA:
                if (len > 0) {
                    to.applicationData(in, body, len);
                }
                break;
            case ALERT:
                alert(body, len, to);
                break;
            case HANDSHAKE:
                handshake(body, len, to);
                break;
            case CHANGE_CIPHER_SPEC:
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a protected ChangeCipherSpec");
            default:
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a record of unknown content type " + type);
        }
    }

    private void alert(int body, int len, Inbound to) throws TlsAlertException {
        // exactly one alert per record, never fragmented (section 5.1); its level is implied by its description (section 6)
        if (len != 2) {
            throw new TlsAlertException(DECODE_ERROR, "an alert record of " + len + " bytes");
        }
        int description = in.get(body + 1) & 0xff;
        if (description == CLOSE_NOTIFY) {
            inboundClosed = true;
            to.closeNotify();
        } else if (description == USER_CANCELED) {
            to.alert(description, false);
        } else {
            inboundClosed = true;
            to.alert(description, true);
        }
    }

    private void handshake(int body, int len, Inbound to) throws TlsAlertException {
        if (len == 0) {
            throw new TlsAlertException(UNEXPECTED_MESSAGE, "an empty handshake record");
        }
        int q = body;
        int end = body + len;
        while (q < end) {
            // a post-handshake message split across records is legal but nothing a peer of ours sends
            // (KeyUpdate is 5 bytes, a NewSessionTicket fits a record): refused rather than reassembled
            if (end - q < 4) {
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a handshake message split across records");
            }
            int type = in.get(q) & 0xff;
            int length = (in.get(q + 1) & 0xff) << 16 | (in.get(q + 2) & 0xff) << 8 | in.get(q + 3) & 0xff;
            if (end - q - 4 < length) {
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a handshake message split across records");
            }
            switch (type) {
                case KEY_UPDATE:
                    if (length != 1) {
                        throw new TlsAlertException(DECODE_ERROR, "a KeyUpdate of " + length + " bytes");
                    }
                    int request = in.get(q + 4) & 0xff;
                    if (request > 1) {
                        throw new TlsAlertException(ILLEGAL_PARAMETER, "a KeyUpdate with request_update " + request);
                    }
                    // the keys change at the end of this record: nothing may follow in it (section 5.1)
                    if (q + 5 != end) {
                        throw new TlsAlertException(UNEXPECTED_MESSAGE, "a KeyUpdate not at the end of its record");
                    }
                    read.update();
                    if (request == 1 && !outboundClosed) {
                        keyUpdateOwed = true;
                    }
                    to.keyUpdate(request == 1);
                    break;
                case NEW_SESSION_TICKET:
                    if (side == Side.SERVER) {
                        throw new TlsAlertException(UNEXPECTED_MESSAGE, "a NewSessionTicket from a client");
                    }
                    break; // we do not resume: the ticket is of no use
                default:
                    throw new TlsAlertException(UNEXPECTED_MESSAGE, "a handshake message of type " + type + " after the handshake");
            }
            q += 4 + length;
        }
    }

    // ---------------------------------------------------------------- writing

    @Override
    public int seal(ByteBuffer src, ByteBuffer dst, int padding) {
        if (padding < 0 || padding >= MAX_PLAINTEXT) {
            throw new IllegalArgumentException("padding " + padding + " (0 to " + (MAX_PLAINTEXT - 1) + ")");
        }
        int sealed = 0;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), MAX_PLAINTEXT - padding);
            int before = keyUpdateDue() ? KEY_UPDATE_RECORD : 0;
            if (dst.remaining() < before + OVERHEAD + n + padding) {
                if (sealed == 0 && dst.position() == 0) {
                    throw new IllegalArgumentException("a buffer of " + dst.capacity() + " bytes cannot hold a record of " + n + " bytes");
                }
                break;
            }
            sealPending(dst);
            sealRecord(APPLICATION_DATA, src, n, padding, dst);
            sealed++;
        }
        return sealed;
    }

    @Override
    public int sealedLength(int length) {
        int records = (length + MAX_PLAINTEXT - 1) / MAX_PLAINTEXT;
        int bytes = length + records * OVERHEAD;
        boolean owed = keyUpdateOwed;
        long used = write.recordsUnderKey();
        for (int i = 0; i < records; i++) {
            if (owed || used >= keyUsageLimit) {
                bytes += KEY_UPDATE_RECORD;
                owed = false;
                used = 0;
            }
            used++;
        }
        return bytes;
    }

    @Override
    public void sealInPlace(ByteBuffer dst, int length) {
        if (keyUpdateDue()) {
            throw new IllegalStateException("a KeyUpdate is owed: sealPending goes before the data is put in place");
        }
        sealRecord(APPLICATION_DATA, inPlaceView(dst, length), length, 0, dst);
    }

    @Override
    public void sealPending(ByteBuffer dst) {
        if (keyUpdateDue()) {
            sealKeyUpdate(false, dst);
        }
    }

    private boolean keyUpdateDue() {
        return keyUpdateOwed || write.recordsUnderKey() >= keyUsageLimit;
    }

    @Override
    public void sealKeyUpdate(boolean requestPeer, ByteBuffer dst) {
        small.clear();
        small.put((byte) KEY_UPDATE).put((byte) 0).put((byte) 0).put((byte) 1).put((byte) (requestPeer ? 1 : 0)).flip();
        sealRecord(HANDSHAKE, small, 5, 0, dst);
        write.update();
        keyUpdateOwed = false;
    }

    @Override
    public void sealAlert(int description, ByteBuffer dst) {
        boolean warning = description == CLOSE_NOTIFY || description == USER_CANCELED;
        small.clear();
        small.put((byte) (warning ? 1 : 2)).put((byte) description).flip();
        sealRecord(ALERT, small, 2, 0, dst);
        if (description != USER_CANCELED) {
            outboundClosed = true;
            keyUpdateOwed = false;
        }
    }

    /**
     * Seals {@code n} bytes of {@code src} as one record of inner type {@code type} at {@code dst}'s
     * position ({@code type} -1: {@code src} is the whole inner plaintext, for tests).
     */
    private void sealRecord(int type, ByteBuffer src, int n, int padding, ByteBuffer dst) {
        int length = n + (type < 0 ? 0 : 1 + padding) + RecordCipher.TAG;
        int at = recordAt(dst, length);
        header[0] = APPLICATION_DATA; // the outer type of every protected record (section 5.2)
        header[1] = 3;
        header[2] = 3;
        header[3] = (byte) (length >>> 8);
        header[4] = (byte) length;
        for (int i = 0; i < HEADER; i++) {
            dst.put(at + i, header[i]);
        }
        if (type == APPLICATION_DATA && padding == 0 && src.isDirect() && dst.isDirect() && !dst.isReadOnly() && sealsDirect()) {
            try {
                write.sealDirect(src, src.position(), n, type, dst, at + HEADER);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("sealing a record failed", e);
            }
            src.position(src.position() + n);
            dst.position(at + HEADER + length);
            return;
        }
        ByteBuffer outDst = outView(dst, at + HEADER, at + HEADER + length);
        if (tail.capacity() < 1 + padding) {
            tail = ByteBuffer.allocate(1 + padding);
        }
        tail.clear();
        if (type >= 0) {
            tail.put((byte) type);
        }
        if (padding > 0) {
            Arrays.fill(tail.array(), 1, 1 + padding, (byte) 0);
            tail.position(1 + padding);
        }
        tail.flip();
        int limit = src.limit();
        try {
            src.limit(src.position() + n);
            write.start(header);
            write.update(src, outDst);
            write.finish(tail, outDst);
        } catch (GeneralSecurityException e) {
            // our own cipher on our own buffers: a broken JDK or a used-up sequence, not the peer's doing
            throw new IllegalStateException("sealing a record failed", e);
        } finally {
            src.limit(limit);
        }
        dst.position(at + HEADER + length);
    }

    @Override
    public boolean opensDirect() {
        return NativeGcm.takes(suite);
    }

    @Override
    public boolean sealsDirect() {
        return opensDirect(); // the same library, both ways
    }

    @Override
    public boolean keyUpdateOwed() {
        return keyUpdateOwed;
    }

    @Override
    public boolean quiet() {
        forgetViews();
        return read.release() | write.release();
    }

    @Override
    public int ciphersHeld() {
        return (read.holdsCipher() ? 1 : 0) + (write.holdsCipher() ? 1 : 0) + (read.holdsNativeContext() ? 1 : 0)
                + (write.holdsNativeContext() ? 1 : 0);
    }

    RecordCipher readCipher() {
        return read;
    }

    RecordCipher writeCipher() {
        return write;
    }

    /** Seals an inner plaintext exactly as given (content, type, padding), for tests of what a peer may not send. */
    void sealRaw(ByteBuffer inner, ByteBuffer dst) {
        sealRecord(-1, inner, inner.remaining(), 0, dst);
    }
}
