package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * Room among the source ports toward a backend: when every one is in use, the holder that ranks
 * lowest goes, so idle connections cannot hold the few hundred reserved ports against everyone else.
 */
final class PortRoom {
    private final Set<Member> connections;
    private final RateLimitedLog warnings;
    /** "front end: ... toward the backend" or, in connector mode, "connector: ... toward the server". */
    private final String who;
    private final String toward;

    PortRoom(Set<Member> connections, RateLimitedLog warnings, String who) {
        this.connections = connections;
        this.warnings = warnings;
        this.who = who;
        this.toward = who.equals("connector") ? "the server " : "the backend ";
    }

    /** Who goes first: lowest rank, then longest idle. */
    private record Holder(Member c, int rank, long lastActivity) implements Comparable<Holder> {
        @Override
        public int compareTo(Holder o) {
            return rank != o.rank ? Integer.compare(rank, o.rank) : Long.compare(lastActivity, o.lastActivity);
        }
    }

    /**
     * On the newcomer's loop, when every source port toward {@code backend} is in use: marks the
     * holder that ranks lowest, idle longest among equals, to be closed, its port going straight to
     * the newcomer's {@code heir} (no other newcomer can take it meanwhile). The rank: first whether
     * the connection meets --require (one below it only relays NULL calls), then what it earned
     * (plain, TLS). A holder ranking below the newcomer may go however busy; an equal one only when
     * idle {@link Admission#EVICT_IDLE_NANOS} at least, so clients all at work are not made to take
     * turns; a higher one never. False when nobody may go.
     */
    boolean makeRoom(Member newcomer, InetSocketAddress backend, Consumer<SourcePorts.Lease> heir) {
        long idleSince = System.nanoTime() - Admission.EVICT_IDLE_NANOS;
        int mine = rank(newcomer);
        List<Holder> candidates = new ArrayList<>();
        for (Member c : connections) {
            long last = c.lastActivity();
            int rank = rank(c);
            if (c == newcomer || rank > mine || rank == mine && last > idleSince || c.earned() == Member.BUSY || c.doomed()
                    || c.closed() || !c.holdsPortTo(backend)) {
                continue;
            }
            candidates.add(new Holder(c, rank, last));
        }
        Collections.sort(candidates);
        for (Holder s : candidates) { // another loop may have marked the best one meanwhile: the next will do
            Member victim = s.c();
            if (!victim.doom(Shed.SOURCE_PORTS, 0)) {
                continue;
            }
            victim.portHeir(heir); // before the close gives the port back
            warnings.warning("port-room", () -> who + ": every source port toward " + toward + LogText.address(backend) + " in use: closing the"
                    + " connection that ranks lowest, idle longest, to make room");
            Member.close(victim, newcomer, "closed to make room: every source port toward " + toward + LogText.address(backend) + " in use");
            return true;
        }
        return false;
    }

    /** Who keeps a source port first: connections that meet --require, then by what they earned. */
    private static int rank(Member c) {
        return (c.meetsRequire() ? Member.BUSY + 1 : 0) + Math.min(c.earned(), Member.TLS_SESSION);
    }
}
