package org.rpctlsservd.handshake;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.bouncycastle.cert.X509CertificateHolder;
import org.rpctlsservd.certs.TrustMaterial;

/**
 * The one typed door to a connection whose handshake succeeded, for whoever relays its records
 * (the front end, after its CONNECT upcall): the record protection, the shut-off signal and what
 * the handshake learned of the client. Obtained from {@link EstablishedSessions}, never by a cast.
 * Every operation takes the session's own lock; nobody else touches Bouncy Castle's protocol object
 * or the record layer that takes the records over from it once the handshake is done.
 */
public interface EstablishedSession {
    /** Where a session puts bytes: plaintext it decrypted, or TLS records it made for the peer. */
    interface Sink {
        void accept(byte[] b, int off, int len);
    }

    /** What {@link #decrypt} throws once the session is shut off: nothing from the peer is taken after that moment. */
    final class ShutOffException extends IOException {
        private static final long serialVersionUID = 1L;

        ShutOffException() {
            super("certificate no longer accepted: session shut off");
        }
    }

    /**
     * Offers bytes that arrived from the peer ({@code arrived} may be null: only what the TLS state
     * kept, for example application data that came with the client's Finished); hands every piece of
     * application data to {@code plain} and every TLS record made meanwhile (alerts, a close_notify
     * answer) to {@code out}. True when the peer closed (close_notify). On a bad record the fatal
     * alert goes to {@code out} before the exception is thrown; once shut off, {@link ShutOffException}.
     * What {@code plain} is given may be a view of the record where it was opened (in
     * {@code arrived}'s buffer, or the session's): valid until the next decrypt or the next read into
     * that buffer, so whoever keeps it longer copies it. What {@code out} is given is the caller's to keep.
     */
    boolean decrypt(ByteBuffer arrived, Sink plain, Sink out) throws IOException;

    /** Where {@link #encrypt} seals records: the caller's buffer to write from (reused by the caller). */
    interface Room {
        /**
         * A buffer with at least {@code bytes} bytes free at its position, where the records are
         * sealed (moving it on): a direct one is written to a socket without NIO's copy, and the
         * records are staged through a small array on their way into it.
         */
        ByteBuffer take(int bytes);
    }

    /**
     * True once {@link #encrypt} seals TLS 1.3 records from a direct buffer into a direct
     * room with no copy (the native sealing loaded, after READY): the caller's buffers may then go direct.
     */
    static boolean sealsDirect() {
        return org.rpctlsservd.records.Providers.sealsDirect();
    }

    /**
     * True when {@link #decrypt} opens this session's records in place in a direct buffer with no
     * copy (its own TLS 1.3 record layer on the native AEADs): the caller may read them into one.
     */
    default boolean opensDirect() {
        return false;
    }

    /**
     * A {@link #decrypt} sink for application data that takes views as they are (of a direct
     * buffer, say, where a record was opened in place): valid until the caller reads into that
     * buffer again. A plain {@link Sink} is given arrays (copies, where the records were in a direct buffer).
     */
    interface Views extends Sink {
        void view(ByteBuffer plain);

        @Override
        default void accept(byte[] b, int off, int len) {
            view(ByteBuffer.wrap(b, off, len));
        }
    }

    /** Where {@link #encrypt} gives its records: a view of the room's buffer (or of an array of their own). */
    interface Records {
        void accept(ByteBuffer records);
    }

    /**
     * Encrypts the application data of {@code plain} (its position to its limit; afterwards at its
     * limit) for the peer. The records are sealed straight into {@code room} (on Bouncy Castle's
     * records, into an array of their own) and given to {@code out}: a view, valid as long as the
     * caller keeps the room's buffer as it is.
     */
    void encrypt(ByteBuffer plain, Room room, Records out) throws IOException;

    /** Encrypts application data for the peer; the records go to {@code out}, in an array of their own. */
    default void encrypt(byte[] b, int off, int len, Sink out) throws IOException {
        encrypt(ByteBuffer.wrap(b, off, len), ByteBuffer::allocate,
                r -> out.accept(r.array(), r.arrayOffset() + r.position(), r.remaining()));
    }

    /** {@code r} runs (on the shutting-off thread, or at once when already shut off) when the session is shut off. */
    void whenShutOff(Runnable r);

    /**
     * The connection has been quiet a while: the record layer gives up what it can make again (see
     * RecordLayer.quiet). True when it gave up something.
     */
    boolean quiet();

    /** What its cipher objects hold now, for the memory budget (none while quiet). */
    long cipherBytes();

    /**
     * The connection ends with records of ours still queued for the peer (it was not taking them):
     * the DISCONNECT that follows sends no close_notify, which written now would land inside a partly
     * sent record, or tell the peer the stream ended whole when records were lost.
     */
    void endsWithRecordsUnsent();

    /** The RPCTLSSD flags of the handshake's outcome (HandshakeOutcome.FLAGS_*). */
    int flags();

    /** How the client's certificate was checked at the handshake; null when no certificate was checked. */
    TrustMaterial.Verification verification();

    /** The client's verified chain, leaf first; empty when none verified. */
    List<X509CertificateHolder> verifiedChain();

    /** "TLSv1.3" or "TLSv1.2". */
    String version();

    /** The ALPN protocol agreed ("sunrpc"), or null. */
    String alpn();
}
