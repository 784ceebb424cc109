package org.rpctlsservd.support;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Polls a condition until it holds, failing the test after a timeout. */
public final class Await {
    private Await() {
    }

    public static void until(BooleanSupplier condition, String what) {
        until(condition, what, 10);
    }

    public static void until(BooleanSupplier condition, String what, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + seconds + " s waiting for: " + what);
            }
            LockSupport.parkNanos(200_000);
        }
    }
}
