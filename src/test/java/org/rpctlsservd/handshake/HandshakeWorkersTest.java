package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Admission, not abortion: the queue bounds new CONNECTs only; steps of admitted handshakes always run, first. */
class HandshakeWorkersTest {
    @Test
    void aFullQueueRefusesNewConnectsButNeverAStepAndStepsGoFirst() throws Exception {
        try (HandshakeWorkers w = new HandshakeWorkers(1, 2)) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch busy = new CountDownLatch(1);
            List<String> order = new CopyOnWriteArrayList<>();
            assertTrue(w.submit(() -> {
                busy.countDown();
                await(release);
            }));
            assertTrue(busy.await(10, TimeUnit.SECONDS));
            assertTrue(w.submit(() -> order.add("connect 1")));
            assertTrue(w.submit(() -> order.add("connect 2")));
            assertFalse(w.submit(() -> order.add("connect 3")), "the third new CONNECT finds the queue full");
            Executor steps = w.executor();
            CountDownLatch done = new CountDownLatch(100);
            for (int i = 0; i < 100; i++) {
                int n = i;
                steps.execute(() -> {
                    order.add("step " + n);
                    done.countDown();
                }); // never refused, however full the CONNECT queue
            }
            assertEquals(2, w.queued());
            assertEquals(100, w.stepsQueued());
            release.countDown();
            assertTrue(done.await(10, TimeUnit.SECONDS));
            org.rpctlsservd.support.Await.until(() -> order.size() == 102, "both queued CONNECTs ran");
            assertEquals("step 0", order.get(0), "steps of admitted handshakes run before new CONNECTs");
            assertEquals(List.of("connect 1", "connect 2"), order.subList(100, 102));
            assertEquals(1, w.peak());
        }
    }

    private static void await(CountDownLatch l) {
        try {
            l.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
