package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import org.rpctlsservd.rpc.RecordMarks;
import org.rpctlsservd.rpc.RecordParser;

/**
 * The record framing toward the client: the backend's bytes pass on as they come (many replies in
 * one TLS record when they came together) while {@link RecordMarks} finds where its records end, so
 * the front end's own replies (refusals, the STARTTLS reply) go between the backend's records,
 * never inside one, and in order.
 */
final class ClientReplies {
    /** A reply made here; the STARTTLS one is the last in clear text. */
    private record OwnReply(byte[] message, boolean startsTls) {
    }

    private final Connection c;
    private final TlsRecords tls;
    /** The backend's bytes are passed on as they come; this only tracks where its records end. */
    private final RecordMarks fromBackend;
    /** The front end's own replies, waiting for the backend's stream to reach the end of a record. */
    private final ArrayDeque<OwnReply> ownReplies = new ArrayDeque<>();
    private long ownReplyBytes;

    ClientReplies(Connection c, TlsRecords tls) {
        this.c = c;
        this.tls = tls;
        this.fromBackend = new RecordMarks(c.services.settings().maxRecord());
    }

    /** A reply made here (not by the backend). */
    void answer(byte[] reply) {
        reply(new OwnReply(reply, false));
    }

    /** The reply to the STARTTLS probe: the last clear text before the handshake. */
    void answerStartTls(byte[] reply) {
        reply(new OwnReply(reply, true));
    }

    /** Our replies go in order, between the backend's records, never inside one. */
    private void reply(OwnReply r) {
        ownReplies.add(r);
        ownReplyBytes += r.message().length;
        if (fromBackend.atBoundary()) {
            placeOwnReplies();
        }
        tls.flush();
    }

    /** What the backend sent, in the loop's (direct) read buffer for plain bytes: passed on, split only where one of our replies waits for a record's end. */
    void fromBackend(ByteBuffer buf) throws IOException {
        while (buf.hasRemaining() && !c.closed()) {
            int start = buf.position();
            int n = fromBackend.advance(buf, !ownReplies.isEmpty());
            tls.write(buf.slice(start, n));
            if (fromBackend.atBoundary()) {
                placeOwnReplies();
            }
        }
    }

    /** Our own replies not yet placed, for the memory budget. */
    long footprint() {
        return ownReplyBytes + Outbound.BUFFER_OVERHEAD * ownReplies.size();
    }

    /** Our own replies that waited for the end of the backend's record. */
    private void placeOwnReplies() {
        OwnReply r;
        while ((r = ownReplies.poll()) != null) {
            ownReplyBytes -= r.message().length;
            ByteBuffer framed = RecordParser.framed(r.message());
            tls.write(framed.array(), 0, framed.limit());
            if (r.startsTls()) {
                tls.startTlsAfterThis(); // from here on what is for the client waits for the handshake
            }
        }
    }
}
