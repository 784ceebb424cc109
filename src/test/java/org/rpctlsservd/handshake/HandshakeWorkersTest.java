package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
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

    @Test
    void aWorkerWaitsForASocketWithoutBeingHeldAndTakesTheStepWhenBytesCome() throws Exception {
        try (HandshakeWorkers w = new HandshakeWorkers(1, 4);
                ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
                SocketChannel ours = listener.accept()) {
            ours.configureBlocking(false);
            Steps steps = w.executor();
            CountDownLatch armed = new CountDownLatch(1);
            CountDownLatch stepped = new CountDownLatch(1);
            List<String> seen = new CopyOnWriteArrayList<>();
            assertTrue(w.submit(() -> {
                steps.onReadable(ours, () -> {
                    ByteBuffer b = ByteBuffer.allocate(16);
                    try {
                        seen.add(Thread.currentThread().getName() + " read " + ours.read(b));
                    } catch (java.io.IOException e) {
                        seen.add("failed " + e);
                    }
                    stepped.countDown();
                });
                armed.countDown();
            }));
            assertTrue(armed.await(10, TimeUnit.SECONDS));
            CountDownLatch other = new CountDownLatch(1);
            assertTrue(w.submit(other::countDown));
            assertTrue(other.await(10, TimeUnit.SECONDS), "the only worker is free while the socket has nothing");
            assertEquals(1, stepped.getCount(), "no step before bytes come");
            assertEquals(List.of(), seen);
            peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertTrue(stepped.await(10, TimeUnit.SECONDS));
            assertEquals(List.of("handshake-1 read 3"), seen, "the step ran on the worker, with the bytes");

            // released: bytes that come later wake nobody
            CountDownLatch again = new CountDownLatch(1);
            CountDownLatch released = new CountDownLatch(1);
            assertTrue(w.submit(() -> {
                steps.onReadable(ours, again::countDown);
                steps.release(ours);
                released.countDown();
            }));
            assertTrue(released.await(10, TimeUnit.SECONDS));
            peer.write(ByteBuffer.wrap(new byte[] {4}));
            CountDownLatch after = new CountDownLatch(1);
            assertTrue(w.submit(after::countDown));
            assertTrue(after.await(10, TimeUnit.SECONDS));
            assertEquals(1, again.getCount(), "a released socket's callback never runs");
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
