package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.bouncycastle.cert.X509CertificateHolder;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.metrics.Metrics.Refusal;
import org.rpctlsservd.proxy.ProxyHeader;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.RecordParser;

/**
 * The backend relay: calls the policy lets through go to the backend (the connection is opened by
 * {@link BackendConnect} when the first one must go, a PROXY header first with --backend-proxy);
 * the backend's bytes go to the client through {@link ClientReplies}.
 */
final class BackendRelay {
    private final Connection c;
    private final TlsRecords tls;
    private final ClientReplies replies;
    private BackendConnect backend;
    /** The record whose relaying opens the backend connection (named in the log if that is refused). */
    private CallHeader opening;
    /** The PROXY header for the backend (--backend-proxy) is queued. */
    private boolean proxySent;

    BackendRelay(Connection c, TlsRecords tls, ClientReplies replies) {
        this.c = c;
        this.tls = tls;
        this.replies = replies;
    }

    /** The stage that opens the backend connection (made after this one: it calls back here). */
    void connectWith(BackendConnect b) {
        this.backend = b;
    }

    /** A whole record for the backend, queued (written when the client's bytes of this event are taken); the connection is started if it is not yet made. */
    void toBackend(byte[] rec, CallHeader h) {
        toBackend(rec, rec.length, true, h);
    }

    /**
     * A record for the backend, or its head: the first {@code head.length} bytes of a first fragment
     * of {@code fragmentLength} bytes, the rest of which follows through {@link #toBackend(ByteBuffer)}.
     */
    void toBackend(byte[] head, int fragmentLength, boolean last, CallHeader h) {
        if (c.services.settings().backendProxy() != 0 && !proxySent) {
            proxySent = true; // the first bytes the backend sees, before any record
            c.toBackend.add(ByteBuffer.wrap(proxyHeader()));
        }
        // the mark and the record as two buffers of one gathering write: a record is not copied again
        c.toBackend.add(RecordParser.markOf(fragmentLength, last));
        c.toBackend.add(ByteBuffer.wrap(head));
        if (!backend.connected()) {
            if (opening == null) {
                opening = h;
            }
            backend.start(); // the queued records go once it is connected
        }
    }

    /** More of a record whose head went: lent bytes, written from where they are with the next {@link #flush}. */
    void toBackend(ByteBuffer rest) {
        c.toBackend.lend(rest);
    }

    /** Writes what the client's bytes of this event queued for the backend, in one gathering write (once it is connected). */
    void flush() {
        c.toBackend.flush();
    }

    /** The backend connection is made: what was queued goes. */
    void connected() {
        c.toBackend.open(backend.channel());
        c.toBackend.flush();
        c.events.armBackendRead();
        c.events.account();
    }

    /** The backend has bytes: they go to the client as they come. */
    void readable() {
        if (c.closed() || c.draining) {
            return;
        }
        ByteBuffer buf = c.readDirect(backend.channel(), "the backend");
        if (buf == null) {
            return;
        }
        try {
            replies.fromBackend(buf);
        } catch (IOException e) {
            c.events.teardown("bad input from the backend: " + LogText.why(e, "the backend"));
            return;
        } finally {
            c.events.account();
        }
        tls.flush();
        c.events.armBackendRead();
    }

    /** Every source port toward the backend is in use: the call that needed the connection is refused (the connection closes). */
    void sourcePortsExhausted(String why) {
        c.services.refusals().refused(c.peer, opening, Refusal.SOURCE_PORTS, () -> why);
    }

    /** The PROXY header that begins the backend connection: the client's address, and with v2 its TLS. */
    private byte[] proxyHeader() {
        if (c.services.settings().backendProxy() == 1) {
            return ProxyHeader.v1(c.peer, c.destination);
        }
        ProxyHeader.Tls t = null;
        EstablishedSession session = tls.session();
        if (session != null) {
            List<X509CertificateHolder> verified = session.verifiedChain();
            String cn = verified.isEmpty() ? null : Dn.commonName(verified.get(0).getSubject());
            int flags = c.flags;
            t = new ProxyHeader.Tls(session.version(), (flags & HandshakeOutcome.FLAGS_GOTCERT) != 0,
                    (flags & (HandshakeOutcome.FLAGS_VERIFIED | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_VERIFIED,
                    cn, session.alpn()); // a DISABLED connection's certificate does not count as verified (as with --require cert)
        }
        return ProxyHeader.v2(c.peer, c.destination, t);
    }
}
