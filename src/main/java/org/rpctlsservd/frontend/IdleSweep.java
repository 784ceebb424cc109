package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * The periodic sweep, on each loop: the memory budget's shedding (for when nothing grows), then
 * each connection's deadlines: --first-call-timeout for one that earned nothing, the idle timeout,
 * and the write timeout of each side.
 */
final class IdleSweep implements Closeable {
    /**
     * Quiet this long, a session's record ciphers give up their cipher objects (1.3 KB of heap on
     * SunJCE, 1 KB and 2 KB of native context on the native provider) until its next record, which
     * makes them again in a few microseconds: most of a deployment's sessions are idle mounts.
     */
    static final long QUIET_NANOS = TimeUnit.SECONDS.toNanos(2);
    private final List<Loop> loops;
    private final Shedding shedding;
    private final RateLimitedLog warnings;
    private final long firstCallNanos;
    private final long idleNanos;
    private final long writeTimeoutNanos;
    private final ScheduledFuture<?> sweep;
    /** The connector's wording (its clients wait for their server's STARTTLS answer and handshake, not for their own). */
    private final boolean connector;

    IdleSweep(List<Loop> loops, Shedding shedding, RateLimitedLog warnings, long firstCallNanos, long idleNanos,
            long writeTimeoutNanos, ScheduledExecutorService timer, boolean connector) {
        this.connector = connector;
        this.loops = loops;
        this.shedding = shedding;
        this.warnings = warnings;
        this.firstCallNanos = firstCallNanos;
        this.idleNanos = idleNanos;
        this.writeTimeoutNanos = writeTimeoutNanos;
        long period = Math.max(50, Math.min(1000,
                TimeUnit.NANOSECONDS.toMillis(Math.min(firstCallNanos, Math.min(idleNanos, writeTimeoutNanos))) / 4));
        this.sweep = timer.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    private void sweep() {
        for (Loop loop : loops) {
            loop.io.submit(() -> sweep(loop));
        }
    }

    private void sweep(Loop loop) {
        shedding.shedIfOver(null);
        long now = System.nanoTime();
        for (Member c : loop.members) {
            if (c.earned() == Member.UNEARNED && now - c.acceptedAt() > firstCallNanos) {
                if (c.doom(Shed.FIRST_CALL_TIMEOUT, 0)) {
                    firstCallWarning(c);
                    c.teardown("nothing earned within " + TimeUnit.NANOSECONDS.toMillis(firstCallNanos) + " ms");
                }
            } else if (now - c.lastActivity() > idleNanos && !c.handshaking()) {
                c.teardown("idle for " + TimeUnit.NANOSECONDS.toSeconds(idleNanos) + " s");
            } else {
                c.checkStuck(now, writeTimeoutNanos);
                if (now - c.lastActivity() > QUIET_NANOS && !c.closed()) {
                    c.quiet();
                }
            }
        }
    }

    private void firstCallWarning(Member c) {
        long ms = TimeUnit.NANOSECONDS.toMillis(firstCallNanos);
        if (!connector) {
            warnings.warning("first-call", () -> "front end: closed clients that had no STARTTLS probe answered and no"
                    + " call relayed within " + ms + " ms (--first-call-timeout)");
            return;
        }
        String server = c.server(); // keyed by server: one slow server does not hide another (the set is fixed by --connect)
        warnings.warning("first-call " + server, () -> "connector: closed clients whose server " + server + " answered no STARTTLS"
                + " probe and finished no TLS handshake within " + ms + " ms (--first-call-timeout)");
    }

    @Override
    public void close() {
        sweep.cancel(false);
    }
}
