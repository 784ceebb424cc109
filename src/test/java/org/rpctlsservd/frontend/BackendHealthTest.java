package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.io.IoLoop;

/**
 * /ready's watch on servers given by name, with a name service that is slow for one name and
 * silent for another: a stand-in resolver, as no real one can be made to hang on cue. The
 * servers themselves are real loopback sockets.
 */
class BackendHealthTest {
    /**
     * One name's look-up that never answers (the connector's one look-up thread stuck on it) and
     * another's that answers after more than a period: neither is counted as a failure while its
     * look-up runs, and the late answer is probed with a period of its own, so past the grace
     * nothing is unready. (Counted at each tick, both were unready after 5 s.)
     */
    @Test
    void aLookUpStillRunningIsNoFailureAndALateAnswerIsProbedInFull() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        IoLoop io = new IoLoop("health-test");
        ScheduledExecutorService slowNameService = Executors.newSingleThreadScheduledExecutor();
        try (ServerSocket up = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            InetSocketAddress stuck = InetSocketAddress.createUnresolved("stuck.example", 2049);
            InetSocketAddress late = InetSocketAddress.createUnresolved("late.example", up.getLocalPort());
            AtomicInteger running = new AtomicInteger();
            AtomicInteger mostAtOnce = new AtomicInteger();
            CompletableFuture<Void> lateProbed = new CompletableFuture<>();
            Thread server = new Thread(() -> {
                try {
                    up.accept().close();
                    lateProbed.complete(null);
                } catch (java.io.IOException e) {
                    lateProbed.completeExceptionally(e);
                }
            });
            server.setDaemon(true);
            server.start();
            BackendHealth.Resolver names = (named, then) -> {
                if (named.equals(late)) {
                    mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
                    slowNameService.schedule(() -> {
                        running.decrementAndGet();
                        then.accept(new InetSocketAddress(InetAddress.getLoopbackAddress(), up.getLocalPort()), null);
                    }, BackendHealth.PROBE_MILLIS + 500, TimeUnit.MILLISECONDS);
                } // stuck.example: never answered
            };
            try (BackendHealth health = new BackendHealth(List.of(stuck, late), names, timer, io)) {
                lateProbed.get(20, TimeUnit.SECONDS); // looked up late, then connected
                // past the grace, counted from the first tick: a failure counted at any tick would show by now
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BackendHealth.PROBE_MILLIS)
                        + TimeUnit.SECONDS.toNanos(BackendHealth.GRACE_SECONDS + 1);
                while (System.nanoTime() < until) {
                    assertEquals(List.of(), health.problems(), "nothing unready while look-ups run or after a late answer");
                    TimeUnit.MILLISECONDS.sleep(100); // sampling /ready as a balancer would, not waiting for a result
                }
                assertEquals(1, mostAtOnce.get(), "one look-up of a name at a time: none started while one still ran");
                assertTrue(health.reachable().values().stream().allMatch(Boolean::booleanValue), health.reachable().toString());
            }
        } finally {
            slowNameService.shutdownNow();
            timer.shutdownNow();
            io.close();
        }
    }
}
