package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;

/**
 * The TLS records stage, in front of the socket of a connection's TLS side (as Netty's SslHandler
 * sits in its pipeline): the client's in the front end, the server's in the connector. Before
 * STARTTLS, bytes pass as they are; from the STARTTLS reply (front end) or probe (connector) until
 * the handshake is done they are held; after it, they are encrypted by the established session
 * and what the peer sends is decrypted by it. Nothing above this stage sees a TLS record.
 */
final class TlsRecords {
    /** Where decrypted bytes go (the record framing). */
    interface Plain {
        void accept(ByteBuffer b) throws IOException;
    }

    private final Connection c;
    /** The TLS side's queue. */
    private final Outbound out;
    /** Parks the socket for the handshake, once the STARTTLS reply has gone. */
    private final Runnable startTls;
    /** The session the CONNECT upcall established; null before, and after the DISCONNECT upcall. */
    private EstablishedSession session;
    /** Bytes for the TLS side (record-marked) held while the handshake runs, to go encrypted after it. */
    private final List<byte[]> held = new ArrayList<>();
    private long heldBytes;
    /** The last clear text is queued: what follows it waits for the handshake. */
    private boolean holding;
    /** The STARTTLS reply is queued: the socket goes to the handshake once it has gone. */
    private boolean startTlsWhenFlushed;
    /**
     * The peer's close_notify came and the session answered it with ours: nothing more can be sent, so
     * what the framing makes for the peer from its last records (our own replies) is dropped, not an error
     * that would end the connection before its last calls reach the other side.
     */
    private boolean sendingDone;

    /** {@code out}: the TLS side's queue; {@code startTls}: parks its socket once the STARTTLS reply has gone (null: never here). */
    TlsRecords(Connection c, Outbound out, Runnable startTls) {
        this.c = c;
        this.out = out;
        this.startTls = startTls;
    }

    EstablishedSession session() {
        return session;
    }

    /** The handshake is done: from now on records are protected by {@code s}. */
    void established(EstablishedSession s) {
        session = s;
        holding = false; // what is written from now on is encrypted at once
    }

    /** The connection is quiet: the session gives up what its next record can make again. */
    boolean quiet() {
        return session != null && session.quiet();
    }

    /**
     * The connection ends: records still queued for the TLS peer (it was not taking them) are lost,
     * so the session is told to send no close_notify after them (see
     * EstablishedSession.endsWithRecordsUnsent).
     */
    void ending() {
        if (session != null && !out.isEmpty()) {
            session.endsWithRecordsUnsent();
        }
    }

    /** Its peer closed the connection: the records queued for it are dropped, and the session sends no close_notify after them. */
    void discardQueued() {
        ending();
        out.discard();
        startTlsWhenFlushed = false; // the STARTTLS reply was among what is dropped: there is no handshake to start
    }

    /** The session is handed to the DISCONNECT upcall. */
    void released() {
        session = null;
    }

    /** The STARTTLS reply was just queued: it is the last clear text; the socket is parked once it has gone. */
    void startTlsAfterThis() {
        holding = true;
        startTlsWhenFlushed = true;
    }

    /** What is written from now on waits for the handshake (the connector's probe was the last clear text). */
    void hold() {
        holding = true;
    }

    /** True while what is written waits for the handshake. */
    boolean holding() {
        return holding;
    }

    /** True when the session opens its records in place in a direct buffer: the TLS side may be read into one. */
    boolean opensDirect() {
        return session != null && session.opensDirect();
    }

    /** What is held for the handshake, for the memory budget. */
    long footprint() {
        return heldBytes + Outbound.BUFFER_OVERHEAD * held.size();
    }

    /** What the session's cipher objects hold now, for the memory budget: none while it is quiet. */
    long cipherBytes() {
        return session != null ? session.cipherBytes() : 0;
    }

    /**
     * Bytes for the TLS side, lent for this event (a view of the loop's read buffer, say): queued as
     * they are before TLS (or on a connection relayed in plain text), encrypted on a TLS one (sealed
     * into the loop's seal room and written from there), held (copied) from the last clear text
     * until the handshake is done.
     */
    void write(byte[] b, int off, int len) {
        write(ByteBuffer.wrap(b, off, len));
    }

    /** As {@link #write(byte[], int, int)}, its position to its limit (a view of the loop's direct read buffer, say). */
    void write(ByteBuffer bytes) {
        int len = bytes.remaining();
        if (c.closed() || len == 0 || sendingDone) {
            return;
        }
        if (holding) {
            byte[] copy = new byte[len];
            bytes.get(bytes.position(), copy);
            held.add(copy);
            heldBytes += len;
            return;
        }
        if (session == null) {
            out.lend(bytes);
            return;
        }
        try {
            session.encrypt(bytes, c.services::sealRoom, out::lend);
        } catch (IOException e) {
            c.events.teardown("TLS write failed: " + LogText.why(e, out.side));
        }
    }

    /** What was held for the handshake goes now: encrypted, or as it is when there is no session (the connector's --allow-plain). */
    void releaseHeld() {
        holding = false;
        List<byte[]> waiting = new ArrayList<>(held);
        held.clear();
        heldBytes = 0;
        for (byte[] b : waiting) {
            write(b, 0, b.length);
        }
    }

    /** Writes what the TLS side's socket takes; once the STARTTLS reply has gone, the socket goes to the handshake. */
    void flush() {
        if (!out.flush()) {
            return;
        }
        if (startTlsWhenFlushed && out.isEmpty() && !c.closed() && !c.draining) { // an ending connection parks nothing
            startTlsWhenFlushed = false;
            startTls.run();
        }
    }

    /**
     * Offers TLS records to the session; passes application data on to {@code plain} (views of the
     * records where they were opened: lent for this event); true when a close_notify came.
     */
    boolean decrypt(ByteBuffer encrypted, Plain plain) throws IOException {
        List<ByteBuffer> opened = new ArrayList<>(); // per call, not per connection: an idle session keeps none
        boolean closed = false;
        IOException refused = null;
        try {
            closed = session.decrypt(encrypted, (EstablishedSession.Views) opened::add, this::queueTls);
            sendingDone |= closed;
        } catch (EstablishedSession.ShutOffException e) {
            throw e; // nothing was opened: nothing from the peer is taken after the shut-off
        } catch (IOException e) {
            refused = e; // the records before the refused one were authentic: they go on, as a kernel's TLS would hand them on
        }
        // handed on once the session is done with them: the framing may write to the session (our own replies)
        for (ByteBuffer b : opened) {
            plain.accept(b);
        }
        flush();
        if (refused != null) {
            throw refused;
        }
        return closed;
    }

    /** What the TLS side's socket takes now, without waiting, before the connection is closed (an alert the session made). */
    void lastWrite() {
        out.lastWrite();
    }

    /** TLS records the session made for the TLS side in an array of their own (alerts, KeyUpdates). */
    private void queueTls(byte[] b, int off, int len) {
        out.add(ByteBuffer.wrap(b, off, len));
    }

}
