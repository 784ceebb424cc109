package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * A connection as the shared services see it ({@link Member}), as far as its context tells: what
 * it earned, how idle it is, what it reported to the budget, and the marks the shared services put
 * on it. The wiring ({@link ClientConnection}) adds what its stages know (teardown, source ports).
 */
abstract class MemberBase implements Member, Connection.Events {
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

    MemberBase(ConnectionServices services, SocketChannel client, InetSocketAddress peer) {
        this.c = new Connection(services, client, peer, this);
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
