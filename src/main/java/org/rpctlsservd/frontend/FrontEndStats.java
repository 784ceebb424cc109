package org.rpctlsservd.frontend;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * The front end's own counters, for tests and the operator's questions (the metrics are counted
 * in {@link org.rpctlsservd.metrics.Metrics}, where they happen): one object, so no component
 * keeps a counter of its own. Safe from any thread.
 */
public final class FrontEndStats {
    private final AtomicInteger handshakes = new AtomicInteger();
    private final AtomicInteger disconnects = new AtomicInteger();
    private final AtomicInteger pauses = new AtomicInteger();
    private final AtomicLong peakQueued = new AtomicLong();
    private final AtomicInteger portsExhausted = new AtomicInteger();
    private final AtomicLong quieted = new AtomicLong();
    /** Clients closed to protect the others, by reason (counted where they are marked, with the metric). */
    private final Map<Shed, AtomicInteger> shed = new EnumMap<>(Shed.class);

    FrontEndStats() {
        for (Shed r : Shed.values()) {
            shed.put(r, new AtomicInteger());
        }
    }

    void handshake() {
        handshakes.incrementAndGet();
    }

    void disconnect() {
        disconnects.incrementAndGet();
    }

    void paused() {
        pauses.incrementAndGet();
    }

    /** The most bytes queued for one side of one connection, raised by each queue as it grows. */
    AtomicLong peakQueuedCounter() {
        return peakQueued;
    }

    void shed(Shed why) {
        shed.get(why).incrementAndGet();
    }

    void quietedOne() {
        quieted.incrementAndGet();
    }

    /** Times a quiet TLS session gave up its cipher objects (IdleSweep.QUIET_NANOS). */
    public long quieted() {
        return quieted.get();
    }

    void countSourcePortsExhausted() {
        portsExhausted.incrementAndGet();
    }

    /** Handshakes that succeeded, and DISCONNECT upcalls made, so far. */
    public int handshakes() {
        return handshakes.get();
    }

    public int disconnects() {
        return disconnects.get();
    }

    /** Times a side stopped being read because the other side was not taking its bytes. */
    public int pauses() {
        return pauses.get();
    }

    /** The most bytes ever queued for one side of one connection. */
    public long peakQueued() {
        return peakQueued.get();
    }

    /** Clients refused because every source port toward their backend was in use. */
    public int sourcePortsExhausted() {
        return portsExhausted.get();
    }

    /** Clients closed at --max-clients to make room. */
    public int evicted() {
        return shed.get(Shed.EVICTED).get();
    }

    /** Clients closed at --first-call-timeout. */
    public int firstCallTimeouts() {
        return shed.get(Shed.FIRST_CALL_TIMEOUT).get();
    }

    /** Clients closed for the memory budget. */
    public int shedForMemory() {
        return shed.get(Shed.MEMORY).get();
    }
}
