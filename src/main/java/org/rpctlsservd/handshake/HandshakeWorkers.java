package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The bounded pool that runs handshake work: at most {@code maxThreads} tasks at once (the
 * {@code -N} cap), further work waits in a bounded queue, and a full queue is refused at once
 * instead of blocking the RPC receiving side (the C daemon's main loop blocked at the cap).
 */
public final class HandshakeWorkers implements Closeable {
    private static final Logger LOG = Logger.getLogger(HandshakeWorkers.class.getName());

    private final int maxThreads;
    private final ThreadPoolExecutor pool;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();

    public HandshakeWorkers(int maxThreads, int queueCapacity) {
        if (maxThreads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("maxThreads and queueCapacity must be positive");
        }
        this.maxThreads = maxThreads;
        AtomicInteger serial = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(maxThreads, maxThreads, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queueCapacity), r -> {
                    Thread t = new Thread(r, "handshake-" + serial.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
        pool.allowCoreThreadTimeOut(true);
    }

    /** The default cap: half the online CPUs, at least one. */
    public static int defaultMaxThreads(int ncpu) {
        return Math.max(1, ncpu / 2);
    }

    public int maxThreads() {
        return maxThreads;
    }

    /** Queues {@code task}; false, at once, when the queue is full or the pool is closed. */
    public boolean submit(Runnable task) {
        try {
            pool.execute(() -> run(task));
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    /** The pool as an executor for later steps of a handshake (throws when full). */
    public Executor executor() {
        return task -> pool.execute(() -> run(task));
    }

    private void run(Runnable task) {
        int now = running.incrementAndGet();
        peak.accumulateAndGet(now, Math::max);
        try {
            task.run();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.SEVERE, "handshake task failed", e);
        } finally {
            running.decrementAndGet();
        }
    }

    /** Tasks running right now. */
    public int running() {
        return running.get();
    }

    /** The most tasks ever seen running at once: never above {@link #maxThreads()}. */
    public int peak() {
        return peak.get();
    }

    /** Tasks waiting for a worker. */
    public int queued() {
        return pool.getQueue().size();
    }

    @Override
    public void close() {
        pool.shutdownNow();
        try {
            if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warning("handshake workers did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
