package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.guard.Fatal;

/**
 * The bounded pool that runs handshake work: at most {@code maxThreads} tasks at once (the
 * {@code -N} cap). Admission, not abortion: only new CONNECTs wait in the bounded queue, and a
 * full queue refuses the new CONNECT at once instead of blocking the RPC receiving side (the C
 * daemon's main loop blocked at the cap). Later steps of handshakes already admitted go to a
 * queue of their own that workers serve first and that never refuses, so a burst of new clients
 * cannot drop a handshake after its expensive crypto. That queue is bounded all the same: each
 * admitted handshake has at most one step waiting, and admitted handshakes are capped.
 */
public final class HandshakeWorkers implements Closeable {
    private static final Logger LOG = Logger.getLogger(HandshakeWorkers.class.getName());

    private final int maxThreads;
    private final int queueCapacity;
    private final Object lock = new Object();
    private final ArrayDeque<Runnable> steps = new ArrayDeque<>();
    private final ArrayDeque<Runnable> connects = new ArrayDeque<>();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();
    private boolean closed;

    public HandshakeWorkers(int maxThreads, int queueCapacity) {
        if (maxThreads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("maxThreads and queueCapacity must be positive");
        }
        this.maxThreads = maxThreads;
        this.queueCapacity = queueCapacity;
        for (int i = 1; i <= maxThreads; i++) {
            Thread t = new Thread(this::work, "handshake-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** The default cap: half the online CPUs, at least one. */
    public static int defaultMaxThreads(int ncpu) {
        return Math.max(1, ncpu / 2);
    }

    public int maxThreads() {
        return maxThreads;
    }

    /** Admits a new CONNECT's first task; false, at once, when the queue is full or the pool is closed. */
    public boolean submit(Runnable task) {
        synchronized (lock) {
            if (closed || connects.size() >= queueCapacity) {
                return false;
            }
            connects.add(task);
            lock.notify();
            return true;
        }
    }

    /** The pool as an executor for later steps of admitted handshakes: never full, refused only when closed. */
    public Executor executor() {
        return task -> {
            synchronized (lock) {
                if (closed) {
                    throw new RejectedExecutionException("handshake workers closed");
                }
                steps.add(task);
                lock.notify();
            }
        };
    }

    private void work() {
        while (true) {
            Runnable task;
            synchronized (lock) {
                while (!closed && steps.isEmpty() && connects.isEmpty()) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                task = steps.isEmpty() ? connects.poll() : steps.poll();
            }
            run(task);
        }
    }

    private void run(Runnable task) {
        int now = running.incrementAndGet();
        peak.accumulateAndGet(now, Math::max);
        try {
            task.run();
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "handshake task failed", e);
        } catch (Error e) {
            Fatal.stop(Thread.currentThread().getName(), e);
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

    /** New CONNECTs waiting for a worker. */
    public int queued() {
        synchronized (lock) {
            return connects.size();
        }
    }

    /** Steps of admitted handshakes waiting for a worker. */
    public int stepsQueued() {
        synchronized (lock) {
            return steps.size();
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            steps.clear();
            connects.clear();
            lock.notifyAll();
        }
        for (Thread t : threads) {
            t.interrupt();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (t.isAlive()) {
                LOG.warning("handshake worker " + t.getName() + " did not stop within 5 s");
            }
        }
    }
}
