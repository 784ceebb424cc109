package org.rpctlsservd.records;

import static org.rpctlsservd.records.TlsAlertException.BAD_RECORD_MAC;
import static org.rpctlsservd.records.TlsAlertException.CLOSE_NOTIFY;
import static org.rpctlsservd.records.TlsAlertException.DECODE_ERROR;
import static org.rpctlsservd.records.TlsAlertException.ILLEGAL_PARAMETER;
import static org.rpctlsservd.records.TlsAlertException.INTERNAL_ERROR;
import static org.rpctlsservd.records.TlsAlertException.UNEXPECTED_MESSAGE;
import static org.rpctlsservd.records.TlsAlertException.USER_CANCELED;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;

/**
 * TLS 1.2 record protection for the AEAD suites of -2 (RFC 5246 section 6.2, RFC 5288, RFC 7905)
 * on the JDK's ciphers, in place in the caller's buffers, as {@link Tls13RecordLayer} does for TLS
 * 1.3: the record framing is the same, the protection differs. Outer content types are real (no
 * inner type, no padding), a GCM record carries its 8-byte explicit nonce in front of the
 * ciphertext, and the additional data is seq_num || type || version || plaintext length.
 *
 * <p>What differs from the interface's TLS 1.3 wording:
 * <ul>
 * <li>No KeyUpdate exists in TLS 1.2: {@link #sealKeyUpdate} throws UnsupportedOperationException
 *     (nothing may ask for one), {@link #keyUpdateOwed} is always false, {@link #sealPending} seals
 *     nothing, {@link RecordLayer.Inbound#keyUpdate} is never called.
 * <li>{@code padding} is ignored: a TLS 1.2 record cannot be padded.
 * <li>A record's overhead is {@link Tls12Suite#overhead()} (29 bytes for GCM, 21 for ChaCha20-Poly1305),
 *     not {@link RecordLayer#OVERHEAD}: {@link #sealInPlace} needs that much room, and its GCM
 *     records have the plaintext 8 bytes further on than where the caller put it (moved by the
 *     cipher, which takes overlapping buffers).
 * <li>A record header of another version than TLS 1.2's is refused with protocol_version, as OpenSSL does.
 * <li>Alerts carry their level: a warning (other than close_notify) is reported as not fatal.
 * <li>Records longer than the suite makes of 2^14 bytes (2^14 + 24 for GCM, 2^14 + 16 for
 *     ChaCha20-Poly1305) are refused from the header with record_overflow, tighter than RFC 5246's
 *     2^14 + 2048 (as OpenSSL's 2^14 + 320 is): an authentic one would decrypt to more than 2^14
 *     bytes, itself record_overflow, and the callers' read buffers hold {@link RecordLayer#MAX_RECORD}.
 * <li>A handshake message after the handshake (a renegotiation: ClientHello from a client,
 *     HelloRequest from a server) is refused with a fatal unexpected_message, not answered with
 *     a no_renegotiation warning as OpenSSL and Bouncy Castle do, except that a client ignores a
 *     HelloRequest (RFC 5246 section 7.4.1.1 lets it). Why: the layer never writes on its own (an
 *     owed warning would need a new door in the interface and room callers do not give), and a
 *     peer that renegotiates an NFS session gets nothing it could use from the warning either.
 * </ul>
 */
public final class Tls12RecordLayer extends FramedRecordLayer {
    static final int CHANGE_CIPHER_SPEC = 20;
    static final int ALERT = 21;
    static final int HANDSHAKE = 22;
    static final int APPLICATION_DATA = 23;
    static final int HELLO_REQUEST = 0;
    static final int NO_RENEGOTIATION = 100;
    static final int PROTOCOL_VERSION = 70;

    private final Tls13RecordLayer.Side side;
    private final Tls12Suite suite;
    private final Tls12Cipher read;
    private final Tls12Cipher write;
    /** Header, explicit nonce, tag. */
    private final int overhead;
    private final int explicit;

    // writing: a small body
    private final ByteBuffer small = ByteBuffer.allocate(2);

    private Tls12RecordLayer(Tls13RecordLayer.Side side, Tls12Keys keys) {
        super(MAX_PLAINTEXT + keys.suite().explicitNonceLength + RecordCipher.TAG); // what the suite makes of 2^14 bytes
        this.side = side;
        this.suite = keys.suite();
        this.read = new Tls12Cipher(suite, keys.readKey(), keys.readIv(), keys.readSequence(), false);
        this.write = new Tls12Cipher(suite, keys.writeKey(), keys.writeIv(), keys.writeSequence(), true);
        this.overhead = suite.overhead();
        this.explicit = suite.explicitNonceLength;
    }

    public static Tls12RecordLayer of(Tls13RecordLayer.Side side, Tls12Keys keys) {
        return new Tls12RecordLayer(side, keys);
    }

    public Tls12Suite suite() {
        return suite;
    }

    // ---------------------------------------------------------------- reading (the framing is FramedRecordLayer's)

    /** Real content types only, of TLS 1.2's version. */
    @Override
    void checkTypeAndVersion(int type, int at) throws TlsAlertException {
        if (type < CHANGE_CIPHER_SPEC || type > APPLICATION_DATA) {
            throw new TlsAlertException(UNEXPECTED_MESSAGE, "a record of unknown content type " + type);
        }
        if (in.get(at + 1) != 3 || in.get(at + 2) != 3) {
            // the version is agreed: OpenSSL refuses another one after the handshake the same way
            throw new TlsAlertException(PROTOCOL_VERSION, String.format("a record of version 0x%02x%02x in a TLS 1.2 session",
                    in.get(at + 1), in.get(at + 2)));
        }
    }

    /** The bound is the longest record body the suite makes of 2^14 bytes. */
    @Override
    String ciphertextBound() {
        return suite + " makes at most " + maxCiphertext;
    }

    @Override
    void openRecord(int at, int length, Inbound to) throws TlsAlertException {
        if (length < explicit + RecordCipher.TAG) {
            throw new TlsAlertException(BAD_RECORD_MAC, "a record of " + length + " bytes cannot hold its nonce and tag");
        }
        int type = in.get(at) & 0xff;
        int body = at + HEADER + explicit;
        int plain = length - explicit - RecordCipher.TAG;
        view(inSrc, body, at + HEADER + length);
        view(inDst, body, at + HEADER + length);
        int n;
        try {
            read.start(type, plain, in, at + HEADER);
            n = read.finish(inSrc, inDst);
        } catch (AEADBadTagException e) {
            throw new TlsAlertException(BAD_RECORD_MAC, "a record failed its authentication (forged, replayed, reordered or cut)", e);
        } catch (GeneralSecurityException e) {
            throw new TlsAlertException(INTERNAL_ERROR, "the record cipher failed", e);
        }
        if (n != plain) {
            throw new TlsAlertException(INTERNAL_ERROR, "the record cipher gave " + n + " bytes of " + plain);
        }
        switch (type) {
            case APPLICATION_DATA:
                if (n > 0) {
                    to.applicationData(in, body, n);
                }
                break;
            case ALERT:
                alert(body, n, to);
                break;
            case HANDSHAKE:
                handshake(body, n);
                break;
            default: // CHANGE_CIPHER_SPEC: only a renegotiation would send one now
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a ChangeCipherSpec after the handshake");
        }
    }

    private void alert(int body, int len, Inbound to) throws TlsAlertException {
        // one alert per record, as every stack sends it (RFC 5246 would allow them fragmented; OpenSSL refuses that too)
        if (len != 2) {
            throw new TlsAlertException(DECODE_ERROR, "an alert record of " + len + " bytes");
        }
        int level = in.get(body) & 0xff;
        int description = in.get(body + 1) & 0xff;
        if (level != 1 && level != 2) {
            throw new TlsAlertException(ILLEGAL_PARAMETER, "an alert of level " + level);
        }
        if (description == CLOSE_NOTIFY) {
            inboundClosed = true;
            to.closeNotify();
        } else if (level == 1) {
            to.alert(description, false);
        } else {
            inboundClosed = true;
            to.alert(description, true);
        }
    }

    private void handshake(int body, int len) throws TlsAlertException {
        // zero-length handshake fragments are forbidden (RFC 5246 section 6.2.1)
        if (len == 0) {
            throw new TlsAlertException(UNEXPECTED_MESSAGE, "an empty handshake record");
        }
        for (int q = body; q < body + len; q += 4) {
            int type = in.get(q) & 0xff;
            boolean helloRequest = type == HELLO_REQUEST && body + len - q >= 4 && in.get(q + 1) == 0 && in.get(q + 2) == 0
                    && in.get(q + 3) == 0;
            if (side == Tls13RecordLayer.Side.SERVER || !helloRequest) {
                throw new TlsAlertException(UNEXPECTED_MESSAGE, "a handshake message of type " + type
                        + " after the handshake (renegotiation is not supported)");
            }
        }
    }

    // ---------------------------------------------------------------- writing

    /** {@code padding} is ignored: TLS 1.2 records cannot be padded. */
    @Override
    public int seal(ByteBuffer src, ByteBuffer dst, int padding) {
        if (padding < 0 || padding >= MAX_PLAINTEXT) {
            throw new IllegalArgumentException("padding " + padding + " (0 to " + (MAX_PLAINTEXT - 1) + ")");
        }
        int sealed = 0;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), MAX_PLAINTEXT);
            if (dst.remaining() < overhead + n) {
                if (sealed == 0 && dst.position() == 0) {
                    throw new IllegalArgumentException("a buffer of " + dst.capacity() + " bytes cannot hold a record of " + n + " bytes");
                }
                break;
            }
            sealRecord(APPLICATION_DATA, src, n, dst);
            sealed++;
        }
        return sealed;
    }

    @Override
    public int sealedLength(int length) {
        int records = (length + MAX_PLAINTEXT - 1) / MAX_PLAINTEXT;
        return length + records * overhead;
    }

    /**
     * Seals the {@code length} bytes at {@code out.position() + HEADER}; the record takes
     * {@link Tls12Suite#overhead()} bytes more (GCM's data ends up 8 bytes further on, after its nonce).
     */
    @Override
    public void sealInPlace(ByteBuffer dst, int length) {
        sealRecord(APPLICATION_DATA, inPlaceView(dst, length), length, dst);
    }

    /** Nothing: TLS 1.2 owes nothing before application data. */
    @Override
    public void sealPending(ByteBuffer dst) {
    }

    /** TLS 1.2 has no KeyUpdate (its only rekeying is renegotiation, which we refuse): UnsupportedOperationException. */
    @Override
    public void sealKeyUpdate(boolean requestPeer, ByteBuffer dst) {
        throw new UnsupportedOperationException("TLS 1.2 has no KeyUpdate");
    }

    /** close_notify, user_canceled and no_renegotiation go as warnings, every other alert as fatal. */
    @Override
    public void sealAlert(int description, ByteBuffer dst) {
        boolean warning = description == CLOSE_NOTIFY || description == USER_CANCELED || description == NO_RENEGOTIATION;
        small.clear();
        small.put((byte) (warning ? 1 : 2)).put((byte) description).flip();
        sealRecord(ALERT, small, 2, dst);
        if (description == CLOSE_NOTIFY || !warning) {
            outboundClosed = true;
        }
    }

    /** Seals {@code n} bytes of {@code src} as one record of {@code type} at {@code dst}'s position. */
    private void sealRecord(int type, ByteBuffer src, int n, ByteBuffer dst) {
        int length = explicit + n + RecordCipher.TAG;
        int at = recordAt(dst, length);
        ByteBuffer outDst = outView(dst, at + HEADER + explicit, at + HEADER + length);
        int limit = src.limit();
        try {
            src.limit(src.position() + n);
            write.start(type, n, null, 0);
            // the header and nonce only after the cipher ran: sealing in place, they go where the data was
            write.finish(src, outDst);
        } catch (GeneralSecurityException e) {
            // our own cipher on our own buffers: a broken JDK or a used-up sequence, not the peer's doing
            throw new IllegalStateException("sealing a record failed", e);
        } finally {
            src.limit(limit);
        }
        dst.put(at, (byte) type);
        dst.put(at + 1, (byte) 3);
        dst.put(at + 2, (byte) 3);
        dst.put(at + 3, (byte) (length >>> 8));
        dst.put(at + 4, (byte) length);
        if (explicit > 0) {
            write.explicitNonce(dst, at + HEADER);
        }
        dst.position(at + HEADER + length);
    }

    @Override
    public boolean keyUpdateOwed() {
        return false;
    }

    @Override
    public boolean quiet() {
        forgetViews();
        return read.release() | write.release();
    }

    @Override
    public int ciphersHeld() {
        return (read.holdsCipher() ? 1 : 0) + (write.holdsCipher() ? 1 : 0);
    }

    Tls12Cipher readCipher() {
        return read;
    }

    Tls12Cipher writeCipher() {
        return write;
    }

    /** Seals a record of any type and content, for tests of what a peer may not send. */
    void sealRaw(int type, ByteBuffer content, ByteBuffer dst) {
        sealRecord(type, content, content.remaining(), dst);
    }
}
