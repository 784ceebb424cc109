package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;

/**
 * The TLS records stage, between the record framing and the client's socket (as Netty's SslHandler
 * sits in its pipeline): before STARTTLS, bytes pass as they are; from the STARTTLS reply until the
 * handshake is done they are held; after it, they are encrypted by the established session and
 * what the client sends is decrypted by it. Nothing above this stage sees a TLS record.
 */
final class TlsRecords {
    /** Where decrypted bytes go (the record framing). */
    interface Plain {
        void accept(ByteBuffer b) throws IOException;
    }

    private final Connection c;
    /** Parks the socket for the handshake, once the STARTTLS reply has gone. */
    private final Runnable startTls;
    /** The session the CONNECT upcall established; null before, and after the DISCONNECT upcall. */
    private EstablishedSession session;
    /** Bytes for the client (record-marked) held while the handshake runs, to go encrypted after it. */
    private final List<byte[]> held = new ArrayList<>();
    private long heldBytes;
    /** The STARTTLS reply is queued: what follows it waits for the handshake. */
    private boolean startTlsWhenFlushed;

    TlsRecords(Connection c, Runnable startTls) {
        this.c = c;
        this.startTls = startTls;
    }

    EstablishedSession session() {
        return session;
    }

    /** The handshake is done: from now on records are protected by {@code s}. */
    void established(EstablishedSession s) {
        session = s;
    }

    /** The session is handed to the DISCONNECT upcall. */
    void released() {
        session = null;
    }

    /** The STARTTLS reply was just queued: it is the last clear text; the socket is parked once it has gone. */
    void startTlsAfterThis() {
        startTlsWhenFlushed = true;
    }

    /** What is held for the handshake, for the memory budget. */
    long footprint() {
        return heldBytes + Outbound.BUFFER_OVERHEAD * held.size();
    }

    /**
     * Record-marked bytes for the client: queued as they are on a plain connection, encrypted on a
     * TLS one, held (copied) from the STARTTLS reply until the handshake is done.
     */
    void write(byte[] b, int off, int len) {
        if (c.closed() || len == 0) {
            return;
        }
        if (c.state == Connection.State.HANDSHAKING || startTlsWhenFlushed) {
            held.add(Arrays.copyOfRange(b, off, off + len));
            heldBytes += len;
            return;
        }
        if (c.state == Connection.State.PLAIN) {
            c.toClient.add(ByteBuffer.wrap(Arrays.copyOfRange(b, off, off + len)));
            return;
        }
        try {
            session.encrypt(b, off, len, this::queueTls);
        } catch (IOException e) {
            c.events.teardown("TLS write failed: " + LogText.why(e, "the client"));
        }
    }

    /** What was held for the handshake goes now, encrypted. */
    void releaseHeld() {
        List<byte[]> out = new ArrayList<>(held);
        held.clear();
        heldBytes = 0;
        for (byte[] b : out) {
            write(b, 0, b.length);
        }
    }

    /** Writes what the client's socket takes; once the STARTTLS reply has gone, the socket goes to the handshake. */
    void flush() {
        if (!c.toClient.flush()) {
            return;
        }
        if (startTlsWhenFlushed && c.toClient.isEmpty()) {
            startTlsWhenFlushed = false;
            startTls.run();
        }
    }

    /** Offers TLS records to the session; passes application data on to {@code plain}; true when a close_notify came. */
    boolean decrypt(ByteBuffer encrypted, Plain plain) throws IOException {
        List<ByteBuffer> out = new ArrayList<>();
        boolean closed = session.decrypt(encrypted, (b, off, len) -> out.add(ByteBuffer.wrap(b, off, len)), this::queueTls);
        for (ByteBuffer b : out) {
            plain.accept(b);
        }
        flush();
        return closed;
    }

    /** TLS records the session made for the client. */
    private void queueTls(byte[] b, int off, int len) {
        c.toClient.add(ByteBuffer.wrap(b, off, len));
    }
}
