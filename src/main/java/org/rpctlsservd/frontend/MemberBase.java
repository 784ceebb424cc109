package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * A connection as the shared services see it ({@link Member}), as far as its context tells: what
 * it earned, how idle it is, what it reported to the budget, and the marks the shared services put
 * on it; and the teardown both compositions share: both sides closed, a TLS session's DISCONNECT
 * upcall, the source port, the memory and the slot given back. The wiring ({@link ClientConnection},
 * {@link ConnectorConnection}) gives its TLS stage and its connected side's {@link BackendConnect}.
 */
abstract class MemberBase implements Member, Connection.Events {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** Set when the connection is gone: nobody can mark it after that (its marks would never be taken back). */
    private static final Doom GONE = new Doom(null, 0);

    /** The connection's context, whose events this object's subclass answers. */
    protected final Connection c;
    /** The bytes last reported to the front end's budget (read by the shedding scan, on any loop). */
    private volatile long reported;
    /** Of those, the bytes of a client record not yet complete. */
    private volatile long unfinished;
    /** Why another loop marked it to be closed (the log's reason). */
    private volatile String markedReason;
    /** Set once, from any loop, when the front end decided to close this connection to protect the others. */
    private final AtomicReference<Doom> doomed = new AtomicReference<>();
    /** What ends the connection once both queues are empty, during a clean end ({@link #endAfterQueues}); else null. */
    private Runnable afterQueues;

    /** {@code backendSide}, {@code tlsOnClient}: see {@link Connection}. */
    MemberBase(ConnectionServices services, SocketChannel client, InetSocketAddress peer, String backendSide, boolean tlsOnClient) {
        this.c = new Connection(services, client, peer, this, backendSide, tlsOnClient);
    }

    /** The TLS stage of the connection's TLS side. */
    protected abstract TlsRecords tlsStage();

    /** The connection's back-pressure stage, which answers the read and drain events of both compositions. */
    protected abstract BackPressure backPressure();

    @Override
    public final void armClientRead() {
        backPressure().armClientRead();
    }

    @Override
    public final void armBackendRead() {
        backPressure().armBackendRead();
    }

    @Override
    public final void clientDrained() {
        backPressure().clientDrained();
        endIfDrained();
    }

    /** The backend's (the server's) queue drained: the client may be read again. */
    @Override
    public final void backendDrained() {
        backPressure().resumeClientRead();
        endIfDrained();
    }

    /** The stage that connects the other side (the backend, or the connector's server). */
    protected abstract BackendConnect connector();

    /** How the log names the connection ("front end 192.0.2.1:700"). */
    protected abstract String name();

    /** {@code o}'s side took no bytes for --write-timeout ({@code seconds}); the connection is closed next. */
    protected void writeTimedOut(Outbound o, long seconds) {
    }

    /** Its own stages' part of closing (a PROXY header's timer, say); on its loop. */
    protected void closeStages() {
    }

    // ---- the end, the same in both compositions ----

    /** Closes both sides; a TLS connection gets its DISCONNECT upcall, which closes the TLS side's socket. */
    @Override
    public void teardown(String reason) {
        if (c.closed()) {
            return;
        }
        LOG.fine(() -> name() + ": closing: " + reason);
        tlsStage().lastWrite(); // an alert the session made for the peer (bad_record_mac, say) goes if it can
        c.state = Connection.State.CLOSED;
        finish();
    }

    /**
     * The TLS peer sent close_notify: what is queued both ways still goes (the peer's last calls or
     * replies, then the session's close_notify in answer), then the session is told and the connection ends.
     */
    protected void closeNotifyReceived() {
        endAfterQueues("its TLS peer sent close_notify", () -> {
            c.state = Connection.State.CLOSED; // no more records either way; the upcalls finish the job
            tlsStage().lastWrite(); // our close_notify, queued by the session, goes if the socket takes it
            // HANDLERECORD and then DISCONNECT, back to back: the service takes a connection's calls in order,
            // so the session answers the close_notify before it is closed, and no round trip is waited for
            c.services.upcalls().handleRecord(c.cookie);
            finish();
        });
    }

    /**
     * One side closed the connection (EOF): what was queued for it is dropped (nobody reads it; on the
     * TLS side the session then sends no close_notify after it), what it sent that waits for the other
     * side still goes, then the connection ends as a teardown does.
     */
    @Override
    public void peerClosed(boolean client, String reason) {
        if (c.closed()) {
            return;
        }
        if (client == c.tlsOnClient) {
            tlsStage().discardQueued(); // the TLS side's queue
        } else {
            (client ? c.toClient : c.toBackend).discard();
        }
        endAfterQueues(reason, () -> teardown(reason));
        if (!c.closed()) {
            account(); // the dropped bytes go back to the budget now, not at the next write event
        }
    }

    /**
     * A clean end, as a kernel's socket buffers would still deliver what they hold after a close:
     * nothing more is read from either side, what is queued goes, and once both queues are empty
     * {@code end} runs. A side that takes nothing for --write-timeout, fails, or is shed ends it at
     * once, as any teardown does. When nothing is relayed yet ({@link #relaying}: the connector
     * before TLS or plain text is agreed with its server, a handshake holding a socket), {@code end} runs at once.
     */
    protected final void endAfterQueues(String reason, Runnable end) {
        if (c.closed() || afterQueues != null) {
            return;
        }
        if (!relaying()) {
            end.run();
            return;
        }
        LOG.fine(() -> name() + ": ending once what is queued has gone (" + c.toClient.bytes + " bytes for the client, " + c.toBackend.bytes
                + " for " + c.backendSide + "): " + reason);
        c.draining = true;
        afterQueues = end;
        c.toClient.flush();
        c.toBackend.flush();
        endIfDrained();
    }

    /**
     * True while records are relayed both ways, so a clean end can let the queues go: with TLS up,
     * or (the front end) a plain client before or without it; not while a handshake has a socket.
     */
    protected boolean relaying() {
        return c.state == Connection.State.TLS || c.state == Connection.State.PLAIN && c.tlsOnClient;
    }

    /** During a clean end: both queues empty, the end runs (once; a teardown meanwhile has ended the connection already). */
    private void endIfDrained() {
        if (afterQueues == null || c.closed() || !c.toClient.isEmpty() || !c.toBackend.isEmpty()) {
            return;
        }
        Runnable end = afterQueues;
        afterQueues = null;
        end.run();
    }

    /** The DISCONNECT upcall when there is a session (both sockets closed once it answered), else the sockets closed now. */
    protected void finish() {
        if (tlsStage().session() != null) {
            tlsStage().ending();
            c.services.stats().disconnect();
            c.services.upcalls().disconnect(c.cookie).whenComplete((r, e) -> c.onLoop(this::closeAll));
            tlsStage().released();
        } else {
            closeAll();
        }
    }

    @Override
    public void closeAll() {
        c.state = Connection.State.CLOSED;
        closeStages();
        c.io.forget(c.client);
        Channels.closeQuietly(c.client);
        BackendConnect other = connector(); // null: the connector's server name not resolved yet
        Runnable waitingForPermit = other == null ? null : other.waitingForPermit();
        if (other != null) {
            other.close();
        }
        account(); // its bytes go back before its mark does (Shedding's marked bytes)
        c.services.forget(this, waitingForPermit);
    }

    @Override
    public void portHeir(Consumer<SourcePorts.Lease> heir) {
        if (connector() != null) {
            connector().portHeir(heir);
        }
    }

    @Override
    public boolean holdsPortTo(InetSocketAddress b) {
        return connector() != null && connector().holdsPortTo(b);
    }

    /** On its loop: it holds {@code now} bytes, {@code unfinishedNow} of them a client record not yet complete; the change goes to the budget. */
    protected void report(long now, long unfinishedNow) {
        long grew = now - reported;
        unfinished = unfinishedNow;
        reported = now;
        c.services.accounted(this, grew);
    }

    /** Why and with how many bytes it was marked, or null. */
    protected Doom doom() {
        Doom d = doomed.get();
        return d == GONE ? null : d;
    }

    @Override
    public boolean doom(Shed why, long held) {
        if (!doomed.compareAndSet(null, new Doom(why, held))) {
            return false;
        }
        Metrics.shed(why);
        c.services.stats().shed(why);
        return true;
    }

    @Override
    public boolean doomed() {
        return doomed.get() != null;
    }

    @Override
    public Doom gone() {
        Doom d = doomed.getAndSet(GONE);
        return d == GONE ? null : d;
    }

    @Override
    public void closeSoon(String reason) {
        c.closeSoon(reason);
    }

    @Override
    public void markForClose(String reason) {
        markedReason = reason;
        c.services.markForClose(this);
    }

    @Override
    public String markedReason() {
        return markedReason;
    }

    @Override
    public boolean inLoop() {
        return c.io.inLoop();
    }

    @Override
    public void checkStuck(long now, long writeTimeoutNanos) {
        if (c.closed()) {
            return;
        }
        for (Outbound o : new Outbound[] {c.toClient, c.toBackend}) {
            if (o.stuckFor(now, writeTimeoutNanos)) {
                writeTimedOut(o, TimeUnit.NANOSECONDS.toSeconds(writeTimeoutNanos));
                teardown(o.side + " took no bytes for " + TimeUnit.NANOSECONDS.toSeconds(writeTimeoutNanos) + " s (" + o.bytes
                        + " bytes waiting)");
                return;
            }
        }
    }

    @Override
    public void closeClientSocket() {
        Channels.closeQuietly(c.client);
    }

    @Override
    public boolean meetsRequire() {
        return c.meetsRequire();
    }

    @Override
    public int earned() {
        return c.earned;
    }

    @Override
    public void quiet() {
        if (tlsStage().quiet()) {
            account(); // its cipher objects' bytes go back to the budget (before it is counted: tests read both)
            c.services.stats().quietedOne();
            Metrics.quiet();
        }
    }

    @Override
    public long lastActivity() {
        return c.lastActivity;
    }

    @Override
    public long lastFromClient() {
        return c.lastFromClient;
    }

    @Override
    public long acceptedAt() {
        return c.acceptedAt;
    }

    @Override
    public long reported() {
        return reported;
    }

    @Override
    public long unfinished() {
        return unfinished;
    }

    @Override
    public boolean closed() {
        return c.closed();
    }

    @Override
    public boolean handshaking() {
        return c.state == Connection.State.HANDSHAKING;
    }

    @Override
    public boolean tls() {
        return c.state == Connection.State.TLS;
    }
}
