package org.rpctlsservd.guard;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.rpctlsservd.io.IoLoop;

/** A process for {@link FatalTest}: makes one of the daemon's vital threads fail in a chosen way. */
public final class FatalProbe {
    private FatalProbe() {
    }

    public static void main(String[] args) throws Exception {
        Fatal.install();
        switch (args[0]) {
            case "ioloop-error": {
                IoLoop io = new IoLoop("probe-io");
                io.submit(() -> {
                    throw new OutOfMemoryError("forced");
                });
                break;
            }
            case "ioloop-bug": {
                IoLoop io = new IoLoop("probe-io");
                CountDownLatch after = new CountDownLatch(1);
                io.submit(() -> {
                    throw new IllegalStateException("a bug in one callback");
                });
                io.submit(after::countDown);
                if (after.await(10, TimeUnit.SECONDS)) {
                    System.out.println("loop still running");
                    System.exit(0);
                }
                break;
            }
            case "timer-periodic": {
                Timers.single("probe-timer").scheduleWithFixedDelay(() -> {
                    throw new IllegalStateException("a sweep that failed");
                }, 0, 10, TimeUnit.MILLISECONDS);
                break;
            }
            case "worker-error": {
                new org.rpctlsservd.handshake.HandshakeWorkers(1, 1).submit(() -> {
                    throw new StackOverflowError("forced");
                });
                break;
            }
            default:
                throw new IllegalArgumentException(args[0]);
        }
        // A fatal error ends the process long before this gives up waiting; nothing counts it down.
        new CountDownLatch(1).await(30, TimeUnit.SECONDS);
        System.out.println("still alive after 30 s");
        System.exit(0);
    }
}
