package org.rpctlsservd.guard;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes all front-end connections may hold at once (queued records, TLS state, records
 * being assembled, per-connection state), so that no number of clients can put the heap at risk.
 * At the limit the front end stops accepting and sheds (closes) the connections holding the most
 * unfinished memory until usage is below three quarters of the limit; it accepts again from there
 * (the gap keeps it from flapping). Nobody is ever made to wait for the budget: a connection that
 * waited for memory held by others that wait too is a dead-lock. Connections add and release their
 * own bytes; the check is one atomic read, so the relay pays nothing for it.
 */
public final class MemoryBudget {
    private final long limit;
    private final long resumeBelow;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong pauses = new AtomicLong();
    private final Object monitor = new Object();
    private volatile boolean paused;
    private volatile Runnable onDrained = () -> { };
    private final RateLimitedLog warnings = new RateLimitedLog(java.util.logging.Logger.getLogger("rpctlssd"));

    public MemoryBudget(long limit) {
        if (limit < 1024 * 1024) {
            throw new IllegalArgumentException("a memory budget below 1 MiB");
        }
        this.limit = limit;
        this.resumeBelow = limit / 4 * 3;
    }

    /** Half the maximum heap: the rest is for sessions, the handshake engine and garbage not yet collected. */
    public static long defaultFor(long maxHeapBytes) {
        return Math.max(16L * 1024 * 1024, maxHeapBytes / 2);
    }

    /** Called (on the thread that released the bytes) when a pause ends. */
    public void onDrained(Runnable r) {
        onDrained = r;
    }

    /** Records {@code delta} more (or, negative, fewer) bytes held. */
    public void add(long delta) {
        if (delta == 0) {
            return;
        }
        long now = used.addAndGet(delta);
        if (delta > 0) {
            if (now > peak.get()) {
                peak.accumulateAndGet(now, Math::max);
            }
            if (now >= limit && !paused) {
                synchronized (monitor) {
                    if (!paused) {
                        // said before it is so: whoever sees the pause and sheds logs after this line, never before it
                        warnings.warning("budget", () -> "front end: memory budget of " + size(limit) + " reached: not accepting"
                                + " new clients until it drains below " + size(resumeBelow) + "; closing the connections that hold"
                                + " the most unfinished memory");
                        pauses.incrementAndGet();
                        paused = true;
                    }
                }
            }
        } else if (paused && now < resumeBelow) {
            boolean resumed = false;
            synchronized (monitor) {
                if (paused && used.get() < resumeBelow) {
                    paused = false;
                    resumed = true;
                }
            }
            if (resumed) {
                onDrained.run();
            }
        }
    }

    private static String size(long bytes) {
        return bytes % (1024 * 1024) == 0 ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
    }

    /** True from reaching the limit until usage drains below three quarters of it: no new clients meanwhile. */
    public boolean paused() {
        return paused;
    }

    /** Where shedding aims and accepting resumes: three quarters of the limit. */
    public long resumeBelow() {
        return resumeBelow;
    }

    public long used() {
        return used.get();
    }

    public long limit() {
        return limit;
    }

    /** The most bytes ever held at once. */
    public long peak() {
        return peak.get();
    }

    /** Times the limit was reached. */
    public long pauses() {
        return pauses.get();
    }
}
