package org.rpctlsservd.handshake;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.logging.Logger;
import org.rpctlsservd.guard.RateLimitedLog;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.TlsProtocol;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.sessions.Session;

/**
 * A connection whose handshake succeeded: its TLS state (Bouncy Castle's protocol object in
 * non-blocking mode, the server's side for RPCTLSSD or the client's for RPCTLSCD), socket, cookie,
 * the peer's verified chain and shut-off state. Every operation
 * holds this object's monitor, so the RPC procedures, the CRL re-check and whoever relays the
 * connection's records never touch the TLS state at the same time.
 */
public final class TlsSession implements Session, EstablishedSession {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private static final RateLimitedLog WARNINGS = new RateLimitedLog(LOG);
    private final long cookie;
    private final SocketChannel channel;
    /** The server's or the client's side: after the handshake both are driven the same way. */
    private final TlsProtocol protocol;
    private final InetSocketAddress peer;
    private final List<X509CertificateHolder> verifiedChain;
    private final int flags;
    /** How the client's chain was checked (why it did not verify, say), or null when none was checked. */
    private final TrustMaterial.Verification verification;
    /** The negotiated version ("TLSv1.3") and ALPN protocol (null when none), for a PROXY header to the backend. */
    private final String version;
    private final String alpn;
    /** Bouncy Castle's record counts and secrets for a hand-over, or null when its records are not on our ciphers. */
    private final RecordTap tap;
    private boolean shutoff;
    private boolean closed;
    /** Told once when the session is shut off (whoever relays its records cuts the client off). */
    private Runnable onShutOff;

    TlsSession(long cookie, SocketChannel channel, TlsProtocol protocol, InetSocketAddress peer,
            List<X509CertificateHolder> verifiedChain, int flags, TrustMaterial.Verification verification, String version, String alpn,
            RecordTap tap) {
        this.tap = tap;
        this.verification = verification;
        this.version = version;
        this.alpn = alpn;
        this.cookie = cookie;
        this.channel = channel;
        this.protocol = protocol;
        this.peer = peer;
        this.verifiedChain = List.copyOf(verifiedChain);
        this.flags = flags;
    }

    @Override
    public long cookie() {
        return cookie;
    }

    /** "TLSv1.3" or "TLSv1.2". */
    public String version() {
        return version;
    }

    /** The ALPN protocol agreed ("sunrpc"), or null. */
    public String alpn() {
        return alpn;
    }

    /**
     * Offers bytes that arrived from the peer ({@code arrived} may be null: only what the TLS state
     * kept, for example application data that came with the client's Finished); hands every piece of
     * application data to {@code plain} and every TLS record made meanwhile (alerts, a close_notify
     * answer) to {@code out}. True when the peer closed (close_notify). On a bad record the fatal
     * alert goes to {@code out} before the exception is thrown.
     */
    public synchronized boolean decrypt(ByteBuffer arrived, Sink plain, Sink out) throws IOException {
        if (shutoff) {
            throw new ShutOffException();
        }
        try {
            if (arrived != null && arrived.hasRemaining()) {
                protocol.offerInput(arrived.array(), arrived.arrayOffset() + arrived.position(), arrived.remaining());
                arrived.position(arrived.limit());
            }
            int avail;
            while ((avail = protocol.applicationDataAvailable()) > 0) {
                byte[] b = new byte[avail];
                int got = protocol.readApplicationData(b, 0, avail);
                plain.accept(b, 0, got);
            }
            return protocol.isClosed();
        } finally {
            drain(out);
        }
    }

    /** Encrypts application data for the peer; the records go to {@code out}. */
    public synchronized void encrypt(byte[] b, int off, int len, Sink out) throws IOException {
        if (closed) {
            throw new IOException("session closed");
        }
        protocol.writeApplicationData(b, off, len);
        drain(out);
    }

    /**
     * What a record layer of our own needs to take this TLS 1.3 session's records over from Bouncy
     * Castle from the next record on, in each direction (see {@link TrafficState}). Bouncy Castle's
     * own record layer keeps working: nothing of it changes. Only when Bouncy Castle holds nothing
     * for anyone: application data not yet taken ({@link #decrypt} with null hands it out) and
     * records not yet written (they are counted already) both make an IllegalStateException, as
     * do TLS 1.2 and a suite without a hand-over (CCM). Bytes of a record only partly offered to
     * Bouncy Castle cannot be seen or taken back: whoever reads for it must offer whole records.
     */
    public synchronized TrafficState trafficState() {
        if (closed || protocol.isClosed()) {
            throw new IllegalStateException("session closed");
        }
        if (tap == null) {
            throw new IllegalStateException("no record hand-over: the session's record cipher is Bouncy Castle's own");
        }
        if (protocol.applicationDataAvailable() > 0) {
            throw new IllegalStateException(protocol.applicationDataAvailable() + " bytes of application data not yet taken");
        }
        if (protocol.getAvailableOutputBytes() > 0) {
            throw new IllegalStateException(protocol.getAvailableOutputBytes() + " bytes of TLS records not yet written");
        }
        return tap.state();
    }

    private void drain(Sink out) {
        ByteBuffer records = output(protocol);
        if (records != null) {
            out.accept(records.array(), 0, records.limit());
        }
    }

    /**
     * The one drain of Bouncy Castle's output: every TLS record it has made and not yet given out,
     * in one buffer ready to write, or null when there is none.
     */
    static ByteBuffer output(TlsProtocol protocol) {
        int avail = protocol.getAvailableOutputBytes();
        if (avail <= 0) {
            return null;
        }
        ByteBuffer out = ByteBuffer.allocate(avail);
        protocol.readOutput(out, avail); // all of it: a single read takes what is available
        out.flip();
        return out;
    }

    public InetSocketAddress peer() {
        return peer;
    }

    public int flags() {
        return flags;
    }

    /** How the client's certificate was checked at the handshake; null when no certificate was checked. */
    public TrustMaterial.Verification verification() {
        return verification;
    }

    public List<X509CertificateHolder> verifiedChain() {
        return verifiedChain;
    }

    /** True once the TLS state is closed (a close_notify came or went, or a fatal alert). */
    public synchronized boolean tlsClosed() {
        return protocol.isClosed();
    }

    public synchronized boolean isShutOff() {
        return shutoff;
    }

    /** {@code r} runs (on the shutting-off thread, or at once when already shut off) when the session is shut off. */
    public void whenShutOff(Runnable r) {
        boolean now;
        synchronized (this) {
            now = shutoff;
            if (!now) {
                onShutOff = r;
            }
        }
        if (now) {
            r.run();
        }
    }

    /**
     * Reads what has arrived (without waiting), lets the TLS state process it (alerts,
     * post-handshake messages; a close_notify is answered with one of ours, once) and writes what
     * it produced. Application data found on the way stays buffered in the TLS state.
     */
    @Override
    public synchronized void handlePendingRecord() {
        if (closed) {
            return;
        }
        try {
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            int n;
            while ((n = channel.read(buf)) > 0) {
                protocol.offerInput(buf.array(), 0, n);
                buf.clear();
            }
            if (protocol.applicationDataAvailable() > 0) {
                int pending = protocol.applicationDataAvailable();
                WARNINGS.log(java.util.logging.Level.SEVERE, "ssl-read", () -> "SSL_read returned " + pending);
            }
        } catch (IOException e) {
            LOG.fine(() -> "handlerecord cookie=0x" + Long.toUnsignedString(cookie, 16) + ": " + e.getMessage());
        }
        flushQuietly();
    }

    /** Writes whatever output the TLS state holds, as far as the socket takes it now. */
    public synchronized void flushQuietly() {
        try {
            ByteBuffer out = output(protocol);
            if (out != null) {
                channel.write(out); // what the socket does not take now is dropped with the connection: the peer is not reading
            }
        } catch (IOException e) {
            LOG.fine(() -> "session cookie=0x" + Long.toUnsignedString(cookie, 16) + ": write failed: " + e.getMessage());
        }
    }

    /** DISCONNECT: close_notify unless shut off (or already sent), half-close for writing, close. */
    @Override
    public synchronized void disconnect() {
        if (closed) {
            return;
        }
        if (!shutoff) {
            try {
                protocol.close(); // queues our close_notify unless one was sent already
            } catch (IOException e) {
                LOG.fine(() -> "close_notify: " + e.getMessage());
            }
            flushQuietly();
            try {
                channel.shutdownOutput();
            } catch (IOException e) {
                LOG.fine(() -> "shutdown: " + e.getMessage());
            }
        }
        closeChannel();
    }

    /**
     * The CRL re-check or a reload found the certificate refused: stop sending and taking records,
     * keep the entry until DISCONNECT, and tell whoever relays the records. The CRL search, the
     * log line and the telling happen outside the monitor: the event loop relaying this session
     * waits for it, and neither a long CRL nor a slow log writer may hold the loop.
     */
    public void shutOff(TrustMaterial trust) {
        X509CertificateHolder leaf = verifiedChain.get(0);
        boolean revoked = revokedUnder(trust);
        String refusal = revoked ? null : trust.allowList().refusal(leaf).orElse("?");
        Runnable told;
        synchronized (this) {
            if (shutoff || closed) {
                return;
            }
            shutoff = true;
            told = onShutOff;
            onShutOff = null;
            try {
                channel.shutdownOutput();
            } catch (IOException e) {
                LOG.fine(() -> "shutdown: " + e.getMessage());
            }
        }
        if (revoked) {
            LOG.info("rpctls_daemon: Certificate Revoked issuerName=" + Dn.oneline(leaf.getIssuer()) + " subjectName="
                    + Dn.oneline(leaf.getSubject()) + ": TCP connection closed");
        } else {
            LOG.info("rpctls_daemon: Certificate no longer allowed issuerName=" + Dn.oneline(leaf.getIssuer()) + " subjectName="
                    + Dn.oneline(leaf.getSubject()) + " (" + refusal + "): TCP connection closed");
        }
        if (told != null) {
            told.run(); // it hands the close to the relay's loop
        }
    }

    /** True when {@code trust} would not let this session's verified certificate in now: revoked, or off the allow-list. */
    public boolean refusedUnder(TrustMaterial trust) {
        return revokedUnder(trust) || trust.allowList().refusal(verifiedChain.get(0)).isPresent();
    }

    /** True when a certificate of the verified chain is revoked under {@code trust}. */
    public boolean revokedUnder(TrustMaterial trust) {
        for (X509CertificateHolder c : verifiedChain) {
            if (trust.revoked(c)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public synchronized void abort() {
        if (closed) {
            return;
        }
        try {
            channel.shutdownInput();
        } catch (IOException e) {
            LOG.fine(() -> "shutdown: " + e.getMessage());
        }
        closeChannel();
    }

    private void closeChannel() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            LOG.fine(() -> "close: " + e.getMessage());
        }
    }
}
