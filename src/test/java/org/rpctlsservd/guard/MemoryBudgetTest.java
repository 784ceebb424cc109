package org.rpctlsservd.guard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The shared budget as a pure object: pause at the limit, resume below three quarters, once. */
class MemoryBudgetTest {
    private static final long MIB = 1024 * 1024;

    @Test
    void pausesAtTheLimitAndResumesBelowThreeQuarters() {
        MemoryBudget b = new MemoryBudget(4 * MIB);
        AtomicInteger drained = new AtomicInteger();
        b.onDrained(drained::incrementAndGet);
        b.add(3 * MIB);
        assertFalse(b.paused());
        b.add(MIB);
        assertTrue(b.paused(), "at the limit");
        b.add(-MIB / 2);
        assertTrue(b.paused(), "3.5 of 4 MiB: not yet drained far enough");
        assertEquals(0, drained.get());
        b.add(-MIB);
        assertFalse(b.paused(), "2.5 of 4 MiB: resumed");
        assertEquals(1, drained.get(), "one resumption per pause");
        b.add(-MIB);
        assertEquals(1, drained.get());
        assertEquals(4 * MIB, b.peak());
        assertEquals(1, b.pauses());
        assertEquals(3 * MIB / 2, b.used());
    }

    @Test
    void theDefaultIsHalfTheHeapAndTinyBudgetsAreRefused() {
        assertEquals(128 * MIB, MemoryBudget.defaultFor(256 * MIB));
        assertEquals(16 * MIB, MemoryBudget.defaultFor(8 * MIB));
        assertThrows(IllegalArgumentException.class, () -> new MemoryBudget(1000));
    }
}
