package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;

/**
 * One client connection of the front end and its backend connection, doing what the FreeBSD
 * kernel does for an RPC-over-TLS transport: answer the STARTTLS probe, hand the socket to the
 * handshake with a CONNECT upcall, then relay records both ways under the result's rules
 * (DISABLED, CERTUSER) and the --require policy. Everything runs on the connection's own event
 * loop, so nothing here needs a lock; the TLS state is behind {@link EstablishedSession}'s door.
 *
 * <p>This class only wires the stages around their shared context ({@link Connection}) and is the
 * connection as the shared services see it ({@link Member}). The stages, in the order bytes meet
 * them: from the client, {@link ProxyStage} (a balancer's PROXY header), {@link TlsRecords}
 * (decrypted once TLS is up), {@link CallFraming} (records: small ones whole, large ones streamed), {@link PolicyStage} (relay,
 * rewrite, refuse, or answer the probe, after which {@link StartTls} parks the socket for the
 * handshake and {@link UpcallResult} takes the CONNECT upcall's answer), {@link BackendRelay} (to
 * the backend, opened by {@link BackendConnect} when the first call must go); from the backend,
 * {@link ClientReplies} (our own replies between its records) and {@link TlsRecords} again; each
 * side's bytes wait in an {@link Outbound}, bounded by {@link BackPressure}; the teardown is here.
 *
 * <p>Memory: what the connection holds is reported to the front end's global budget; at its limit
 * the front end closes the connections holding the most unfinished memory (never pausing anyone's
 * reads: see {@link Shedding}). A side that stops taking bytes is closed after the write timeout.
 * The backend connection is made, without blocking, when the first call must be relayed: a client
 * that only probes or says nothing costs the backend nothing.
 */
final class ClientConnection extends MemberBase {
    /**
     * What a connection costs beyond its queues (its objects, sockets and keys, the backend
     * connection, the session's entry); with TLS, Bouncy Castle's protocol state too. Measured as
     * live heap after a full GC per idle connection that relayed one call (HostileLoadIT's
     * idle-session attack, which fails when these drift from the heap by more than half): 2,758
     * bytes plain, 12,935 with TLS 1.3 (they were 8 and 64 KiB, guesses, and 2,100 idle TLS clients
     * tripped a 128 MiB budget). A partial TLS record inside Bouncy Castle (up to 16 KiB) is not counted.
     */
    static final long PLAIN_OVERHEAD = 2_600;
    static final long TLS_OVERHEAD = 12_800;
    private final ProxyStage proxy;
    private final CallFraming framing;
    private final TlsRecords tls;
    private final ClientReplies replies;
    private final BackendRelay relay;
    private final BackendConnect backend;
    private final UpcallResult upcallResult;
    private final BackPressure backPressure;

    ClientConnection(ConnectionServices services, SocketChannel client, InetSocketAddress peer, InetSocketAddress backendAddress) {
        super(services, client, peer, "the backend", true);
        StartTls startTls = new StartTls(c, this::upcallAnswered);
        this.tls = new TlsRecords(c, c.toClient, startTls::park);
        this.replies = new ClientReplies(c, tls);
        this.relay = new BackendRelay(c, tls, replies);
        PolicyStage policy = new PolicyStage(c, tls, replies, relay, this::bytesAfterRecord);
        this.framing = new CallFraming(services.settings().maxRecord(), policy);
        this.proxy = new ProxyStage(c, framing);
        this.upcallResult = new UpcallResult(c, tls);
        this.backend = new BackendConnect(services, this, backendAddress, relay::connected, this::teardown, c::closed,
                relay::sourcePortsExhausted);
        relay.connectWith(backend);
        this.backPressure = new BackPressure(c, this::clientReadable, relay::readable, this::forClient, c.toBackend::footprint,
                () -> backend.connected() ? backend.channel() : null);
    }

    private boolean bytesAfterRecord() {
        return framing.bytesFollow() || framing.midRecord();
    }

    void start() {
        proxy.start();
        clientReadable(); // the client's first call (its probe) has usually arrived already: no wait for it
        account();
    }

    // ---- from the client ----

    private void clientReadable() {
        if (!c.reading()) {
            return;
        }
        Doom d = doom();
        if (d != null) {
            teardown("closed to protect the others: " + d.why().label()); // never read again
            return;
        }
        // TLS records into the direct buffer where the session opens them there in place; the rest
        // (the probe, a PROXY header, records a JCE provider or Bouncy Castle opens) on the heap
        boolean direct = c.state == Connection.State.TLS && tls.opensDirect();
        ByteBuffer buf = direct ? c.readDirect(c.client, "the client") : c.readSome(c.client, "the client");
        if (buf == null) {
            return;
        }
        c.lastFromClient = c.lastActivity;
        if (c.state == Connection.State.TLS) {
            fromTls(buf, false);
            return;
        }
        try {
            if (!proxy.over() && !proxy.pass(buf)) {
                return; // torn down, or more of the header to come (read armed again)
            }
            framing.feed(buf);
            relay.flush();
        } catch (IOException e) {
            teardown("bad input from the client: " + LogText.why(e, "the client"));
            return;
        } finally {
            account();
        }
        armClientRead();
    }

    /**
     * TLS records from the client ({@code encrypted} null: what the handshake kept, which may hold
     * the first calls, sent with the client's Finished) through the session, the framing and the
     * policy; with {@code releaseHeld}, what was held for the client during the handshake goes too.
     */
    private void fromTls(ByteBuffer encrypted, boolean releaseHeld) {
        try {
            boolean closeNotify = tls.decrypt(encrypted, framing::feed);
            relay.flush(); // what this read made for the backend, in one gathering write
            if (releaseHeld) {
                tls.releaseHeld();
                tls.flush();
            }
            if (closeNotify) {
                closeNotifyReceived();
                return;
            }
        } catch (EstablishedSession.ShutOffException e) {
            teardown(e.getMessage()); // the certificate was refused meanwhile: nothing more is taken
            return;
        } catch (IOException e) {
            relay.flush(); // what came before the refused record, as far as the backend takes it now
            teardown("bad input from the client: " + LogText.why(e, "the client"));
            return;
        } finally {
            account();
        }
        armClientRead();
    }

    /** On this loop: the CONNECT upcall answered; with a session, TLS is up and what came with the Finished is taken. */
    private void upcallAnswered(ConnectResult res, Throwable err) {
        if (upcallResult.accept(res, err)) {
            fromTls(null, true);
        }
    }

    // ---- back-pressure and the budget ----

    @Override
    protected BackPressure backPressure() {
        return backPressure;
    }

    @Override
    public void clientWritable() {
        tls.flush();
        account();
    }

    @Override
    public void backendWritable() {
        c.toBackend.flush();
        account();
    }

    /** Reports what this connection holds now to the front end's budget; past its limit, the front end sheds. */
    @Override
    public void account() {
        boolean closed = c.closed();
        long now = closed ? 0
                : forClient() + c.toBackend.footprint() + framing.footprint() + tls.cipherBytes()
                        + (tls.session() != null || c.state == Connection.State.HANDSHAKING ? TLS_OVERHEAD : PLAIN_OVERHEAD);
        report(now, closed || !framing.midRecord() ? 0 : framing.footprint());
    }

    /** What waits for the client: its queue, what is held while the handshake runs, and our own replies not yet placed. */
    private long forClient() {
        return c.toClient.footprint() + tls.footprint() + replies.footprint();
    }

    // ---- the end (the teardown itself is MemberBase's, shared with the connector) ----

    @Override
    protected TlsRecords tlsStage() {
        return tls;
    }

    @Override
    protected BackendConnect connector() {
        return backend;
    }

    @Override
    protected String name() {
        return "front end " + LogText.address(c.peer);
    }

    @Override
    protected void closeStages() {
        proxy.close();
    }
}
