package org.rpctlsservd.records;

import java.nio.ByteBuffer;

/**
 * The record protection of one established TLS session, both directions: what reads bytes as they
 * came from the socket and hands on plaintext, and what turns plaintext into bytes for the socket.
 * Narrow on purpose: a kernel-TLS implementation (Linux's tls ULP, given the traffic secrets with
 * setsockopt) would frame and protect in the kernel, hand on each record as it arrives through
 * {@link #open} (its type from the control message) and pass plaintext through {@link #seal}.
 *
 * <p>Not thread-safe: one connection's loop calls it.
 */
public interface RecordLayer {
    int HEADER = 5;
    /** TLSPlaintext.length's bound (RFC 8446 section 5.1). */
    int MAX_PLAINTEXT = 1 << 14;
    /** TLSCiphertext.length's bound (section 5.2). */
    int MAX_CIPHERTEXT = MAX_PLAINTEXT + 256;
    /** The largest record on the wire: a read buffer holds at least one. */
    int MAX_RECORD = HEADER + MAX_CIPHERTEXT;
    /** What sealing adds to application data without padding: the header, the inner content type, the tag. */
    int OVERHEAD = HEADER + 1 + RecordCipher.TAG;

    /** What the peer's records say, as they are opened. */
    interface Inbound {
        /**
         * Application data, in place in the read buffer: valid only during the call (the buffer is
         * reused as soon as {@link #open} returns). Zero-length records are not reported.
         */
        void applicationData(ByteBuffer buffer, int offset, int length);

        /**
         * The peer moved its sending keys on (our reading keys have followed). If it asked us to do
         * the same, {@link #keyUpdateOwed()} is true until our KeyUpdate is sealed, which the next
         * {@link #seal} does first; {@link #sealPending} seals it now.
         */
        void keyUpdate(boolean updateRequested);

        /** The peer's close_notify: it sends nothing more (its later bytes are ignored); we may still send. */
        void closeNotify();

        /**
         * Another alert from the peer. Fatal (every alert but user_canceled, RFC 8446 section 6): the
         * session is over and nothing is to be sent back; user_canceled only announces a close_notify.
         */
        void alert(int description, boolean fatal);
    }

    /**
     * Opens every whole record among the bytes read so far. {@code in} is the connection's read
     * buffer, always the same one, in fill mode as socket reads leave it (the bytes from 0 or from
     * where the last call stopped up to its position; capacity at least {@link #MAX_RECORD}); each
     * record is decrypted in place and reported to {@code to}. On return the buffer is ready for the
     * next read: cleared when every byte was used, otherwise the partial record stays (moved to the
     * front only when the rest of it would not fit behind it).
     *
     * @throws TlsAlertException the peer's bytes are refused; send {@link TlsAlertException#description()}
     *     and close. Nothing of the refused record was reported; every later call throws the same.
     */
    void open(ByteBuffer in, Inbound to) throws TlsAlertException;

    /**
     * Opens, in place, every whole record of {@code in} between its position and its limit (read
     * mode; any heap or direct buffer: whoever read into it keeps what is cut off), moving the
     * position past them. A record cut off by the limit is left where it is, its header checked
     * when it is all there; once the peer's close_notify or fatal alert is opened, the position goes
     * to the limit (what follows is ignored). For a caller that reads into a buffer shared with other
     * connections and keeps the cut-off bytes itself; not to be mixed with {@link #open} while that
     * holds a partial record.
     *
     * @throws TlsAlertException as {@link #open} does; the position is then at the limit.
     */
    void openAvailable(ByteBuffer in, Inbound to) throws TlsAlertException;

    /**
     * Seals application data from {@code src} into whole records at {@code out}'s position, as many
     * as fit, each of at most {@link #MAX_PLAINTEXT} bytes less {@code padding}, with {@code padding}
     * zero bytes of TLS 1.3 padding. A KeyUpdate owed goes first. {@code out} then holds records
     * back to back for one (gathering) write. Returns the number of application-data records sealed.
     */
    int seal(ByteBuffer src, ByteBuffer out, int padding);

    /** The bytes {@link #seal(ByteBuffer, ByteBuffer)} makes of {@code length} bytes of application data now, KeyUpdates owed included. */
    int sealedLength(int length);

    default int seal(ByteBuffer src, ByteBuffer out) {
        return seal(src, out, 0);
    }

    /**
     * True when {@link #seal} takes application data from a direct buffer into a direct one with no
     * copy (TLS 1.3 on the native AEADs); otherwise {@link #sealStaged} is the way into a
     * direct one.
     */
    default boolean sealsDirect() {
        return false;
    }

    /**
     * True when {@link #open} opens records in place in a direct buffer with no copy (TLS 1.3 on the
     * native AEADs). Asked at every read without the session's lock: answered from final or
     * volatile state only.
     */
    default boolean opensDirect() {
        return false;
    }

    /** What {@link #sealStaged}'s scratch buffer holds at least: one record with anything owed before it. */
    int STAGE = MAX_PLAINTEXT + 256;

    /**
     * Seals as {@link #seal(ByteBuffer, ByteBuffer)} does, the same bytes, one record at a time
     * through {@code scratch} (a heap buffer of at least {@link #STAGE} bytes): each record's
     * plaintext is copied into it, sealed there in place and copied to {@code out}. For an
     * {@code out} the cipher cannot write to without a copy of its own (a direct buffer, which the
     * socket then takes without NIO's): both copies stay within the CPU's first-level cache.
     */
    default int sealStaged(ByteBuffer src, ByteBuffer out, ByteBuffer scratch) {
        if (!scratch.hasArray() || scratch.capacity() < STAGE) {
            throw new IllegalArgumentException("a staging buffer is an array of at least " + STAGE + " bytes");
        }
        int sealed = 0;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), MAX_PLAINTEXT);
            if (out.remaining() < sealedLength(n)) { // with a KeyUpdate owed before it
                if (sealed == 0 && out.position() == 0) {
                    throw new IllegalArgumentException("a buffer of " + out.capacity() + " bytes cannot hold a record of " + n + " bytes");
                }
                break;
            }
            scratch.clear();
            sealPending(scratch);
            src.get(src.position(), scratch.array(), scratch.arrayOffset() + scratch.position() + HEADER, n);
            src.position(src.position() + n);
            sealInPlace(scratch, n);
            out.put(scratch.flip());
            sealed++;
        }
        return sealed;
    }

    /**
     * Seals, in place, {@code length} bytes the caller put at {@code out.position() + HEADER} (read
     * there straight from the other side's socket), leaving room for {@link #OVERHEAD}. Call
     * {@link #sealPending} before putting them there: a KeyUpdate owed must go first.
     */
    void sealInPlace(ByteBuffer out, int length);

    /** Seals what is owed before application data (our KeyUpdate, if the peer asked for one or our key is used up). */
    void sealPending(ByteBuffer out);

    /** Seals a KeyUpdate and moves our sending keys on after it; {@code requestPeer} asks the peer to do the same. */
    void sealKeyUpdate(boolean requestPeer, ByteBuffer out);

    /** Seals an alert to send (close_notify, or the one a {@link TlsAlertException} names); nothing is sealed after it. */
    void sealAlert(int description, ByteBuffer out);

    /** The peer asked for a KeyUpdate and ours is not yet sealed. */
    boolean keyUpdateOwed();

    /**
     * The session is quiet: its ciphers give up their cipher objects (on the native provider, native
     * contexts too) until its next record, and it forgets its views of buffers it is not reading from,
     * so an idle session holds its keys and sequence numbers, little more. Nothing changes on the wire.
     * True when it gave up something (false: already quiet).
     */
    boolean quiet();

    /**
     * What one cipher object costs while held, for the memory budget: on the native provider 280
     * bytes of heap and 1.2 KB of native context, on SunJCE 650 bytes of heap (a quiet session holds
     * none; measured, 20,000 AES-GCM ciphers each).
     */
    int CIPHER_BYTES = 1_500;

    /** How many cipher objects it holds now (0 to 4, a native context counted as one: none while quiet). */
    int ciphersHeld();

    /** The peer's close_notify or fatal alert came, or its bytes were refused. */
    boolean inboundClosed();

    /** Our close_notify or alert is sealed. */
    boolean outboundClosed();
}
