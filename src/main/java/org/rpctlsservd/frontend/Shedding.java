package org.rpctlsservd.frontend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * The memory budget's last resort: at its limit the front end accepts nobody (see
 * {@link Listeners}) and closes the connections holding the most unfinished memory, stalled
 * partial records first, then the largest holders; it never stops reading anyone for the budget.
 */
final class Shedding {
    /** A client that sent nothing for this long while a record of it is unfinished is not making progress. */
    static final long STALLED_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final MemoryBudget budget;
    private final Set<Member> connections;
    private final RateLimitedLog warnings;
    /** "front end" or "connector", for the log. */
    private final String who;
    /** The bytes of connections marked for the memory budget and not yet closed. */
    private final AtomicLong markedBytes = new AtomicLong();

    Shedding(MemoryBudget budget, Set<Member> connections, RateLimitedLog warnings, String who) {
        this.budget = budget;
        this.connections = connections;
        this.warnings = warnings;
        this.who = who;
    }

    /** What a connection holds, read once, so the order does not change while it is sorted. */
    private record Holding(Member c, boolean stalledPartial, long unfinished, long held, long lastActivity) {
    }

    /** Stalled partial records first, the most unfinished first; then the largest holders; then the longest idle. */
    private static final Comparator<Holding> SHED_ORDER = Comparator
            .comparing((Holding h) -> !h.stalledPartial())
            .thenComparing(h -> h.stalledPartial() ? -h.unfinished() : 0L)
            .thenComparing(h -> -h.held())
            .thenComparingLong(Holding::lastActivity);

    /**
     * On a loop, after a connection grew, and on each sweep: from the budget's limit until usage is
     * below where accepting resumes, marks the connections holding the most unfinished memory
     * (partial records from clients not making progress, then the largest holders) to be closed.
     * <p>Why this cannot dead-lock: no connection ever waits for the budget. Reading goes on for
     * everyone not marked, so every call being assembled either completes (and moves on to the
     * backend, which drains it) or its connection is closed here and its bytes given back; memory
     * held by one client is never what another is waiting for. (Stopping reads at the limit did
     * dead-lock: calls half-read when it tripped could neither finish nor be given up.)
     * <p>Why it holds the limit: a marked connection's client is never read again; one on this loop
     * is closed here and now, one on another loop is closed there at the next growth that loop
     * reports ({@link Loop#closeMarked}), or sooner. So usage passes the limit by about what two
     * callbacks add on each loop (one that ran while another loop's scan marked, one before its
     * marks close), each: a read (64 KiB, with the framing and queue overhead of the records
     * in it, and the front end's own replies to them) and the growth of one record's buffer (it
     * doubles, up to the record's declared length). No lock: loops scanning at once mark with a
     * compare-and-set each and see each other's marks in {@link #markedBytes}.
     */
    void shedIfOver(Member caller) {
        // From reaching the limit until below where accepting resumes: a scan that aimed below it
        // can be outgrown by others before its marks close, and the limit may never be reached
        // again while nobody is admitted (the sweep calls this too, for when nothing grows).
        if (!budget.paused() || needed() <= 0) {
            return;
        }
        long now = System.nanoTime();
        List<Holding> candidates = new ArrayList<>();
        for (Member c : connections) {
            if (c.doomed() || c.earned() == Member.BUSY) {
                continue; // marked already; or its socket is with the handshake, which has its own deadline
            }
            long unfinished = c.unfinished();
            candidates.add(new Holding(c, unfinished > 0 && now - c.lastFromClient() > STALLED_NANOS, unfinished, c.reported(),
                    c.lastActivity()));
        }
        candidates.sort(SHED_ORDER);
        int n = 0;
        long freed = 0;
        for (Holding h : candidates) {
            if (needed() <= 0) {
                break;
            }
            if (h.c().doom(Shed.MEMORY, h.held())) {
                markedBytes.addAndGet(h.held()); // before it can close: its close takes the same bytes back
                Member.close(h.c(), caller, "closed for the memory budget, holding " + h.held() + " bytes ("
                        + h.unfinished() + " of an unfinished record)");
                freed += h.held();
                n++;
            }
        }
        if (n > 0) {
            int count = n;
            long bytes = freed;
            warnings.warning("budget-shed", () -> who + ": memory budget of " + (budget.limit() >> 20) + " MiB reached: closing "
                    + count + " connections holding " + (bytes >> 10) + " KiB (unfinished records of stalled clients first, then the"
                    + " largest)");
        }
    }

    /** A connection was forgotten, with the mark {@code d} it had (or null): a mark for the budget is taken back. */
    void forgotten(Member.Doom d) {
        if (d != null && d.why() == Shed.MEMORY) {
            markedBytes.addAndGet(-d.held());
        }
    }

    /** What must still be given back to get below where accepting resumes, beyond what is marked already. */
    private long needed() {
        return budget.used() - markedBytes.get() - budget.resumeBelow() + 1; // accepting resumes strictly below
    }
}
