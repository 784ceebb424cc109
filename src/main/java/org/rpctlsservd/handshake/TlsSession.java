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
import org.rpctlsservd.records.RecordLayer;
import org.rpctlsservd.records.Tls13RecordLayer;
import org.rpctlsservd.records.Tls13Suite;
import org.rpctlsservd.records.TlsAlertException;
import org.rpctlsservd.records.TrafficSecrets;
import org.rpctlsservd.sessions.Session;

/**
 * A connection whose handshake succeeded: its TLS state (Bouncy Castle's protocol object in
 * non-blocking mode, the server's side for RPCTLSSD or the client's for RPCTLSCD), socket, cookie,
 * the peer's verified chain and shut-off state. Its records go to our own record layer at
 * completion ({@link Tls13RecordLayer}, or under -2 {@link org.rpctlsservd.records.Tls12RecordLayer}
 * for the AEAD suites), Bouncy Castle having done only the handshake; only a CCM suite (never
 * offered by default) stays on Bouncy Castle's records. Every operation
 * holds this object's monitor, so the RPC procedures, the CRL re-check and whoever relays the
 * connection's records never touch the TLS state at the same time.
 */
public final class TlsSession implements Session, EstablishedSession {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private static final RateLimitedLog WARNINGS = new RateLimitedLog(LOG);
    /** A sealed KeyUpdate: header, the 4-byte message header and its byte, the content type, the tag. */
    private static final int KEY_UPDATE_RECORD = RecordLayer.OVERHEAD + 5;
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
    /** The relay ended with records unsent: DISCONNECT closes without a close_notify (see endsWithRecordsUnsent). */
    private boolean recordsUnsent;
    private boolean closed;
    /** Told once when the session is shut off (whoever relays its records cuts the client off). */
    private Runnable onShutOff;
    /**
     * Our record layer, which took the records over from Bouncy Castle when the handshake completed
     * (GCM or ChaCha20-Poly1305, TLS 1.3 or 1.2); null: Bouncy Castle carries them (CCM).
     */
    private final RecordLayer layer;
    /** What the peer sent after its Finished, read with it by the handshake: the first decrypt opens it. */
    private ByteBuffer leftover;
    /** A record the last read cut off, its first bytes in write mode (from 0); null when none. */
    private ByteBuffer cut;
    /** The other buffer for a cut record: the one just opened may still be viewed by the caller. */
    private ByteBuffer spare;
    /** What the records opened now say: handed on as they come. */
    private final Opened opened = new Opened();

    TlsSession(long cookie, SocketChannel channel, TlsProtocol protocol, InetSocketAddress peer,
            List<X509CertificateHolder> verifiedChain, int flags, TrustMaterial.Verification verification, String version, String alpn,
            RecordTap tap, boolean server, ByteBuffer leftover, boolean handOver) {
        this.tap = tap;
        this.leftover = leftover;
        this.verification = verification;
        this.version = version;
        this.alpn = alpn;
        this.cookie = cookie;
        this.channel = channel;
        this.protocol = protocol;
        this.peer = peer;
        this.verifiedChain = List.copyOf(verifiedChain);
        this.flags = flags;
        this.layer = handOver ? handOver(server) : null;
    }

    /**
     * The hand-over: Bouncy Castle's traffic secrets (TLS 1.3) or key block (TLS 1.2 AEAD, under -2)
     * and record counts go to a record layer of ours, the copies are wiped, and from now on Bouncy
     * Castle is not asked about records; null when it keeps them (CCM, or it still holds something).
     */
    private RecordLayer handOver(boolean server) {
        if (tap == null) {
            return null;
        }
        Tls13RecordLayer.Side side = server ? Tls13RecordLayer.Side.SERVER : Tls13RecordLayer.Side.CLIENT;
        if ("TLSv1.2".equals(version)) {
            org.rpctlsservd.records.Tls12Keys keys;
            try {
                checkNothingHeld();
                keys = tap.keys12();
            } catch (IllegalStateException e) {
                WARNINGS.log(java.util.logging.Level.WARNING, "hand-over", () -> "TLS 1.2 session kept on Bouncy Castle's records: " + e.getMessage());
                return null;
            }
            try {
                return org.rpctlsservd.records.Tls12RecordLayer.of(side, keys);
            } finally {
                keys.wipe();
            }
        }
        if (!"TLSv1.3".equals(version)) {
            return null;
        }
        TrafficState state;
        try {
            state = trafficState();
        } catch (IllegalStateException e) {
            // Bouncy Castle still holds something of the peer's (it was offered whole records up to the Finished, so it should not): it goes on
            WARNINGS.log(java.util.logging.Level.WARNING, "hand-over", () -> "TLS session kept on Bouncy Castle's records: " + e.getMessage());
            return null;
        }
        try {
            Tls13Suite suite = Tls13Suite.of(state.cipherSuite());
            return Tls13RecordLayer.of(side,
                    new TrafficSecrets(suite, state.readSecret(), state.readSequence(), state.writeSecret(), state.writeSequence()),
                    state.keyUpdateOwed());
        } finally {
            state.wipe(); // the record ciphers hold their keys; the secrets go
        }
    }

    /** A KeyUpdate of ours, sealed, for tests that drive a peer's record layer (nothing of ours sends one unasked). */
    synchronized byte[] keyUpdateForTest(boolean requestPeer) {
        ByteBuffer b = ByteBuffer.allocate(KEY_UPDATE_RECORD);
        layer.sealKeyUpdate(requestPeer, b);
        return b.array();
    }

    /** True when our record layer carries this session's records (false: Bouncy Castle's). */
    synchronized boolean recordsHandedOver() {
        return layer != null;
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
        if (layer != null) {
            return open(arrived, plain, out);
        }
        try {
            if (leftover != null) {
                ByteBuffer l = leftover;
                leftover = null;
                protocol.offerInput(l.array(), l.arrayOffset() + l.position(), l.remaining());
            }
            if (arrived != null && arrived.hasRemaining()) {
                if (arrived.hasArray()) {
                    protocol.offerInput(arrived.array(), arrived.arrayOffset() + arrived.position(), arrived.remaining());
                } else {
                    byte[] copy = new byte[arrived.remaining()]; // Bouncy Castle takes arrays
                    arrived.get(arrived.position(), copy);
                    protocol.offerInput(copy, 0, copy.length);
                }
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

    /**
     * {@link #decrypt} on our record layer: the records are opened in place, where they were read
     * (the caller's buffer, the handshake's leftover, or this session's buffer for a record a read
     * cut off), and {@code plain} is given views of them, valid until the next decrypt or read into
     * {@code arrived}'s buffer. Our answers (a KeyUpdate asked for, our close_notify to the peer's,
     * the alert for a refused record) go to {@code out}.
     */
    private boolean open(ByteBuffer arrived, Sink plain, Sink out) throws IOException {
        if (closed) {
            throw new IOException("session closed");
        }
        opened.start(plain);
        try {
            takeLeftover();
            if (arrived != null) {
                take(arrived);
            }
        } catch (TlsAlertException e) {
            answer(e.description(), out);
            throw new IOException(e.getMessage(), e);
        } finally {
            opened.plain = null;
        }
        if (opened.fatal >= 0) {
            throw new IOException("received fatal alert: " + TlsAlertException.name(opened.fatal));
        }
        if (opened.closeNotify) {
            answer(TlsAlertException.CLOSE_NOTIFY, out); // as Bouncy Castle did: the peer's close_notify is answered with ours
            return true;
        }
        sealOwedKeyUpdate(out);
        return false;
    }

    /** What the peer sent with its Finished, kept by the handshake: opened first, once. */
    private void takeLeftover() throws TlsAlertException {
        if (leftover != null) {
            ByteBuffer l = leftover;
            leftover = null;
            take(l);
        }
    }

    /** A KeyUpdate the peer asked for, sealed to {@code out} now, not with our next data. */
    private void sealOwedKeyUpdate(Sink out) {
        if (layer.keyUpdateOwed()) {
            ByteBuffer b = ByteBuffer.allocate(KEY_UPDATE_RECORD);
            layer.sealPending(b);
            out.accept(b.array(), 0, b.position());
        }
    }

    /**
     * Opens the whole records of {@code src} (from its position to its limit; afterwards at its
     * limit): first the rest of a record the last read cut off, then those in place, and keeps what
     * is cut off now in this session's buffer.
     */
    private void take(ByteBuffer src) throws TlsAlertException {
        boolean cutOpened = false;
        if (cut != null && cut.position() > 0) {
            // the cut record's rest: its header first (to learn its length), then up to its end
            int need = need(cut);
            while (need > 0 && src.hasRemaining()) {
                int k = Math.min(need, src.remaining());
                cut.put(cut.position(), src, src.position(), k).position(cut.position() + k);
                src.position(src.position() + k);
                need = need(cut);
            }
            if (need > 0) {
                return; // still cut: the rest comes with a later read
            }
            cut.flip();
            layer.openAvailable(cut, opened);
            cut.clear();
            cutOpened = true;
        }
        layer.openAvailable(src, opened);
        if (!src.hasRemaining()) {
            if (!cutOpened) {
                cut = null; // nothing waits: an idle session keeps no buffer
                spare = null;
            }
            return;
        }
        if (cutOpened) {
            // the record just opened in the cut buffer may still be viewed by the caller: the other buffer takes this one
            ByteBuffer used = cut;
            cut = spare;
            spare = used;
        }
        if (cut == null) {
            cut = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        }
        cut.clear().put(src);
    }

    /** Bytes still missing from the record begun in {@code b} (write mode from 0); 0 when it can be opened (or refused). */
    private static int need(ByteBuffer b) {
        int have = b.position();
        if (have < RecordLayer.HEADER) {
            return RecordLayer.HEADER - have;
        }
        int length = (b.get(3) & 0xff) << 8 | b.get(4) & 0xff;
        if (length > RecordLayer.MAX_CIPHERTEXT) {
            return 0; // refused as soon as the header is there
        }
        return Math.max(0, RecordLayer.HEADER + length - have);
    }

    /** Seals our alert (close_notify, or the one for a refused record) to {@code out}, unless ours is already sealed. */
    private void answer(int description, Sink out) {
        if (layer.outboundClosed()) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(layer.sealedLength(2)); // at least an alert record (TLS 1.2 GCM: 31 bytes, more than OVERHEAD + 2)
        layer.sealAlert(description, b);
        out.accept(b.array(), 0, b.position());
    }

    /** What the records say as they are opened; set up per call. */
    private static final class Opened implements RecordLayer.Inbound {
        Sink plain;
        long bytes;
        boolean closeNotify;
        int fatal = -1;

        void start(Sink p) {
            plain = p;
            bytes = 0;
            fatal = -1;
            closeNotify = false;
        }

        @Override
        public void applicationData(ByteBuffer buffer, int offset, int length) {
            bytes += length;
            if (plain == null) {
                return;
            }
            if (plain instanceof Views v) {
                v.view(buffer.slice(offset, length));
            } else if (buffer.hasArray()) {
                plain.accept(buffer.array(), buffer.arrayOffset() + offset, length);
            } else {
                byte[] copy = new byte[length]; // a direct buffer has no array to view
                buffer.get(offset, copy);
                plain.accept(copy, 0, length);
            }
        }

        @Override
        public void keyUpdate(boolean updateRequested) {
            // our reading keys followed; an answer asked for is sealed when the records are opened
        }

        @Override
        public void closeNotify() {
            closeNotify = true;
        }

        @Override
        public void alert(int description, boolean fatal) {
            if (fatal) {
                this.fatal = description;
            }
        }
    }

    /**
     * Encrypts application data for the peer: sealed in place into {@code room} on our record layer
     * (no array of ours per call: the relay writes the records from where they were sealed).
     */
    @Override
    public synchronized void encrypt(ByteBuffer plain, Room room, Records out) throws IOException {
        if (closed) {
            throw new IOException("session closed");
        }
        if (layer == null) {
            int len = plain.remaining();
            if (plain.hasArray()) {
                protocol.writeApplicationData(plain.array(), plain.arrayOffset() + plain.position(), len);
            } else {
                byte[] copy = new byte[len]; // Bouncy Castle takes arrays
                plain.get(plain.position(), copy);
                protocol.writeApplicationData(copy, 0, len);
            }
            plain.position(plain.limit());
            ByteBuffer records = output(protocol);
            if (records != null) {
                out.accept(records);
            }
            return;
        }
        if (layer.outboundClosed()) {
            throw new IOException("TLS session closed for writing");
        }
        if (!plain.hasRemaining()) {
            return;
        }
        ByteBuffer dst = room.take(layer.sealedLength(plain.remaining()));
        int at = dst.position();
        try {
            if (dst.hasArray() || (plain.isDirect() && layer.sealsDirect())) {
                layer.seal(plain, dst);
            } else {
                layer.sealStaged(plain, dst, STAGE.get());
            }
        } catch (IllegalStateException e) {
            // the cipher could not be made or run (a provider out of native memory, a used-up sequence): the connection ends
            closed = true;
            throw new IOException("sealing a record failed: " + e.getMessage(), e);
        }
        out.accept(dst.slice(at, dst.position() - at));
    }

    /** Without the session's lock (asked at every read): the layer is final and what it answers from is final or volatile. */
    @Override
    public boolean opensDirect() {
        return layer != null && layer.opensDirect();
    }

    /** Each loop thread's staging array for {@link RecordLayer#sealStaged}: small enough to stay in the first-level cache. */
    private static final ThreadLocal<ByteBuffer> STAGE = ThreadLocal.withInitial(() -> ByteBuffer.allocate(RecordLayer.STAGE));

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
        if (layer != null) {
            throw new IllegalStateException("the records were handed over: the secrets are gone");
        }
        if (tap == null) {
            throw new IllegalStateException("no record hand-over: the session's record cipher is Bouncy Castle's own");
        }
        checkNothingHeld();
        return tap.state();
    }

    /** A hand-over's condition, either version: Bouncy Castle is open and holds nothing for anyone. */
    private void checkNothingHeld() {
        if (closed || protocol.isClosed()) {
            throw new IllegalStateException("session closed");
        }
        if (protocol.applicationDataAvailable() > 0) {
            throw new IllegalStateException(protocol.applicationDataAvailable() + " bytes of application data not yet taken");
        }
        if (protocol.getAvailableOutputBytes() > 0) {
            throw new IllegalStateException(protocol.getAvailableOutputBytes() + " bytes of TLS records not yet written");
        }
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

    @Override
    public synchronized boolean quiet() {
        return layer != null && layer.quiet();
    }

    @Override
    public synchronized void endsWithRecordsUnsent() {
        recordsUnsent = true;
    }

    @Override
    public synchronized long cipherBytes() {
        return layer != null ? (long) layer.ciphersHeld() * RecordLayer.CIPHER_BYTES : 0;
    }

    /** True once the TLS state is closed (a close_notify came or went, or a fatal alert). */
    public synchronized boolean tlsClosed() {
        if (layer != null) {
            return layer.inboundClosed() || layer.outboundClosed();
        }
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
        if (layer != null) {
            handlePendingRecords();
            return;
        }
        try {
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            int n;
            if (leftover != null) {
                ByteBuffer l = leftover;
                leftover = null;
                protocol.offerInput(l.array(), l.arrayOffset() + l.position(), l.remaining());
            }
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

    /**
     * HANDLERECORD on our record layer: the records read now are opened (a KeyUpdate taken, and
     * answered when asked; the peer's close_notify answered with ours; a refused record answered
     * with its alert), our answers written straight to the socket. Application data has nobody to
     * go to here: it is counted in the log line the C daemon writes for it, and dropped.
     */
    private void handlePendingRecords() {
        Sink toSocket = (b, off, len) -> write(ByteBuffer.wrap(b, off, len));
        try {
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            opened.start(null);
            try {
                takeLeftover();
                while (!layer.inboundClosed() && channel.read(buf) > 0) {
                    take(buf.flip());
                    buf.clear();
                }
            } catch (TlsAlertException e) {
                answer(e.description(), toSocket);
                LOG.fine(() -> "handlerecord cookie=0x" + Long.toUnsignedString(cookie, 16) + ": " + e.getMessage());
                return;
            }
            if (opened.bytes > 0) {
                long pending = opened.bytes;
                WARNINGS.log(java.util.logging.Level.SEVERE, "ssl-read", () -> "SSL_read returned " + pending);
            }
            if (opened.closeNotify) {
                answer(TlsAlertException.CLOSE_NOTIFY, toSocket);
            } else {
                sealOwedKeyUpdate(toSocket);
            }
        } catch (IOException e) {
            LOG.fine(() -> "handlerecord cookie=0x" + Long.toUnsignedString(cookie, 16) + ": " + e.getMessage());
        }
    }

    /** Writes records we sealed, as far as the socket takes them now. */
    private void write(ByteBuffer b) {
        try {
            channel.write(b); // what the socket does not take now is dropped with the connection: the peer is not reading
        } catch (IOException e) {
            LOG.fine(() -> "session cookie=0x" + Long.toUnsignedString(cookie, 16) + ": write failed: " + e.getMessage());
        }
    }

    /** Writes whatever output the TLS state holds, as far as the socket takes it now. */
    public synchronized void flushQuietly() {
        if (layer != null) {
            return; // our record layer's records are written as they are sealed
        }
        try {
            ByteBuffer out = output(protocol);
            if (out != null) {
                channel.write(out); // what the socket does not take now is dropped with the connection: the peer is not reading
            }
        } catch (IOException e) {
            LOG.fine(() -> "session cookie=0x" + Long.toUnsignedString(cookie, 16) + ": write failed: " + e.getMessage());
        }
    }

    /** DISCONNECT: close_notify unless shut off, already sent or records were left unsent; half-close for writing; close. */
    @Override
    public synchronized void disconnect() {
        if (closed) {
            return;
        }
        try {
            if (recordsUnsent) {
                LOG.fine(() -> "session cookie=0x" + Long.toUnsignedString(cookie, 16) + ": closed without close_notify: records were left unsent");
            } else if (!shutoff && layer != null) {
                answer(TlsAlertException.CLOSE_NOTIFY, (b, off, len) -> write(ByteBuffer.wrap(b, off, len))); // unless sent already
                halfClose();
            } else if (!shutoff) {
                try {
                    protocol.close(); // queues our close_notify unless one was sent already
                } catch (IOException e) {
                    LOG.fine(() -> "close_notify: " + e.getMessage());
                }
                flushQuietly();
                halfClose();
            }
        } finally {
            closeChannel(); // even when sealing the close_notify failed: the socket has an end
        }
    }

    /**
     * Ends our sending with a FIN, unless the socket is set to close with a reset (a reserved
     * port's: SO_LINGER 0): the peer answering a FIN with its own before the reset would leave the
     * port in TIME_WAIT, which the reset is there to spare. Such a socket gets the close_notify and
     * the reset alone.
     */
    private void halfClose() {
        try {
            Integer linger = channel.getOption(java.net.StandardSocketOptions.SO_LINGER);
            if (linger == null || linger != 0) {
                channel.shutdownOutput();
            }
        } catch (IOException e) {
            LOG.fine(() -> "shutdown: " + e.getMessage());
        }
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
            halfClose();
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
        if (layer != null) {
            layer.quiet(); // its cipher objects and native contexts go now, not when the collector finds them
        }
        try {
            channel.close();
        } catch (IOException e) {
            LOG.fine(() -> "close: " + e.getMessage());
        }
    }
}
