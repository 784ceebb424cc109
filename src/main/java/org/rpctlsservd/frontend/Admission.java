package org.rpctlsservd.frontend;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * --max-clients: a newcomer takes a slot, or room is made for it by closing the connections that
 * have earned least, longest idle first (as Linux's NFS server closes its oldest temporary
 * transport), so a flood of idle sockets cannot keep anyone out. Called on any loop.
 */
final class Admission {
    /** Connections that have earned nothing closed at once, at most, when --max-clients is reached: one scan serves a flood. */
    static final int EVICT_BATCH = 64;
    /** Past the first, a connection goes in an eviction batch only when idle this long: a newcomer about to send its probe stays. */
    static final long EVICT_IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final int maxClients;
    private final Set<Member> connections;
    private final RateLimitedLog warnings;
    /** "front end" or "connector", for the log. */
    private final String who;
    /**
     * Connections admitted and neither forgotten nor marked for eviction: what counts against
     * --max-clients. One counter, so no reader sees a connection gone from one count and not yet
     * from another (the set's size() is only an estimate while it changes).
     */
    private final AtomicInteger standing = new AtomicInteger();

    Admission(int maxClients, Set<Member> connections, RateLimitedLog warnings, String who) {
        this.maxClients = maxClients;
        this.connections = connections;
        this.warnings = warnings;
        this.who = who;
    }

    /** A slot for a newcomer: taken, or made by marking others to be closed; false when nobody can go. */
    boolean admit() {
        if (takeSlot() || makeRoom()) {
            return true;
        }
        warnings.warning("max-clients", () -> who + ": refused a client: " + maxClients + " connections already"
                + " (--max-clients), all of them handshaking or closing already");
        return false;
    }

    /** An admitted newcomer went before it was served: its slot, taken or handed over, goes back. */
    void gaveBack() {
        standing.decrementAndGet();
    }

    /** A connection was forgotten, with the mark {@code d} it had (or null). */
    void forgotten(Member.Doom d) {
        if (d == null || d.why() != Shed.EVICTED) {
            standing.decrementAndGet(); // an evicted one's slot was handed over or freed when it was marked
        }
    }

    /** A slot under --max-clients, taken at once or not at all: listeners on several loops never both take the last. */
    private boolean takeSlot() {
        while (true) {
            int n = standing.get();
            if (n >= maxClients) {
                return false;
            }
            if (standing.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Who goes first when room must be made: lowest rank (what it earned, a newcomer counted as earned), then longest idle. */
    private record Standing(Member c, int earned, int rank, long lastActivity) implements Comparable<Standing> {
        @Override
        public int compareTo(Standing o) {
            return rank != o.rank ? Integer.compare(rank, o.rank) : Long.compare(lastActivity, o.lastActivity);
        }
    }

    /**
     * Victims a scan found beyond the one it needed, of the same rank, best first, for the next
     * newcomers: one scan serves many admissions in a flood. Each is checked again when taken (its
     * standing may have changed), and all go once ranks may have changed with age. Guarded by
     * itself (listeners on several loops may make room at once).
     */
    private final ArrayDeque<Standing> spareVictims = new ArrayDeque<>();
    private long sparesScanned;

    /**
     * On a loop, at --max-clients: marks the connection that has earned least, longest idle first,
     * to be closed on its own loop (as Linux's svc_check_conn_limits closes its oldest temporary
     * transport); in a flood, those that earned nothing and have been idle a while go up to
     * {@link #EVICT_BATCH} at a time. A newcomer that has not had time to send its probe
     * ({@link #EVICT_IDLE_NANOS}) counts as having earned, so it goes by age among the earned
     * plain clients, never first. False when nobody can go (all handshaking or closing).
     */
    private boolean makeRoom() {
        long idleSince = System.nanoTime() - EVICT_IDLE_NANOS;
        int marked = 0;
        synchronized (spareVictims) {
            if (System.nanoTime() - sparesScanned > EVICT_IDLE_NANOS) {
                spareVictims.clear(); // a newcomer of then may count as idle now
            }
            Standing spare;
            while ((spare = spareVictims.poll()) != null) {
                if (stillStands(spare) && evict(spare, true)) {
                    return true;
                }
            }
            PriorityQueue<Standing> worst = new PriorityQueue<>(EVICT_BATCH + 1, Comparator.reverseOrder());
            for (Member c : connections) {
                int earned = c.earned();
                if (earned == Member.BUSY || c.doomed() || c.closed()) {
                    continue;
                }
                long last = c.lastActivity();
                worst.add(new Standing(c, earned, earned == Member.UNEARNED && last > idleSince ? Member.EARNED : earned, last));
                if (worst.size() > EVICT_BATCH) {
                    worst.poll();
                }
            }
            List<Standing> order = new ArrayList<>(worst);
            Collections.sort(order);
            sparesScanned = System.nanoTime();
            int rank = -1;
            for (Standing s : order) {
                if (marked == 0 || s.rank() == Member.UNEARNED && rank == Member.UNEARNED) {
                    if (evict(s, marked == 0)) {
                        marked++;
                        rank = s.rank();
                    }
                } else if (s.rank() == rank) {
                    spareVictims.add(s); // as good as the one taken: for the next newcomers, one each
                }
            }
        }
        if (marked > 0) {
            int n = marked;
            warnings.warning("evicted", () -> who + ": " + maxClients + " connections (--max-clients): closing " + n
                    + " that earned least, longest idle first, to make room");
        }
        return marked > 0;
    }

    /** A spare victim is still one when nothing about it changed since the scan that found it. */
    private static boolean stillStands(Standing s) {
        Member c = s.c();
        return !c.doomed() && c.earned() == s.earned() && c.lastActivity() == s.lastActivity();
    }

    /** Marks {@code s} to make room; with {@code handOver} its slot passes straight to the newcomer, else it is freed. */
    private boolean evict(Standing s, boolean handOver) {
        if (!s.c().doom(Shed.EVICTED, 0)) {
            return false;
        }
        if (!handOver) {
            standing.decrementAndGet(); // a batch's others: room for the next newcomers
        }
        Member.close(s.c(), null, "closed to make room: " + maxClients + " connections (--max-clients)");
        return true;
    }
}
