package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.guard.Fatal;
import org.rpctlsservd.io.Readiness;

/**
 * The bounded pool that runs handshake work: at most {@code maxThreads} tasks at once (the
 * {@code -N} cap). Admission, not abortion: only new CONNECTs wait in the bounded queue, and a
 * full queue refuses the new CONNECT at once instead of blocking the RPC receiving side (the C
 * daemon's main loop blocked at the cap). Later steps of handshakes already admitted go to a
 * queue of their own that workers serve first and that never refuses, so a burst of new clients
 * cannot drop a handshake after its expensive crypto. That queue is bounded all the same: each
 * admitted handshake has at most one step waiting, and admitted handshakes are capped.
 * <p>
 * Each worker also waits for the sockets of the handshakes it started ({@link Steps}): an idle
 * worker sleeps in its own selector, so a peer's next flight wakes the worker that runs the step,
 * and a new task wakes an idle worker through that selector. A ready socket is a step too, and
 * goes before any queued task.
 */
public final class HandshakeWorkers implements Closeable {
    private static final Logger LOG = Logger.getLogger(HandshakeWorkers.class.getName());

    private final int maxThreads;
    private final int queueCapacity;
    private final Object lock = new Object();
    private final ArrayDeque<Runnable> steps = new ArrayDeque<>();
    private final ArrayDeque<Runnable> connects = new ArrayDeque<>();
    /** Workers asleep in their selectors, to be woken for a queued task; guarded by {@code lock}. */
    private final ArrayDeque<Worker> idle = new ArrayDeque<>();
    private final List<Worker> workers = new ArrayList<>();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();
    private final StepsImpl stepsView = new StepsImpl();
    private volatile boolean closed;

    /** One worker thread and the selector it waits in. */
    private final class Worker extends Thread {
        final Readiness readiness;
        /** Arming that had to wait until the ready keys were gone through; only this thread uses it. */
        final ArrayDeque<Runnable> later = new ArrayDeque<>();

        Worker(String name) throws IOException {
            super(name);
            readiness = new Readiness();
            setDaemon(true);
        }

        /** True when this worker belongs to {@code pool} (a daemon has one pool; tests may run several). */
        boolean of(HandshakeWorkers pool) {
            return HandshakeWorkers.this == pool;
        }

        @Override
        public void run() {
            work(this);
        }
    }

    public HandshakeWorkers(int maxThreads, int queueCapacity) {
        if (maxThreads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("maxThreads and queueCapacity must be positive");
        }
        this.maxThreads = maxThreads;
        this.queueCapacity = queueCapacity;
        try {
            for (int i = 1; i <= maxThreads; i++) {
                workers.add(new Worker("handshake-" + i));
            }
        } catch (IOException e) {
            for (Worker w : workers) {
                w.readiness.close();
            }
            throw new IllegalStateException("cannot open a selector for the handshake workers: " + e.getMessage(), e);
        }
        for (Worker w : workers) {
            w.start();
        }
    }

    public int maxThreads() {
        return maxThreads;
    }

    /** Admits a new CONNECT's first task; false, at once, when the queue is full or the pool is closed. */
    public boolean submit(Runnable task) {
        Worker wake;
        synchronized (lock) {
            if (closed || connects.size() >= queueCapacity) {
                return false;
            }
            connects.add(task);
            wake = idle.poll();
        }
        if (wake != null) {
            wake.readiness.wakeup();
        }
        return true;
    }

    /** The pool as an executor for later steps of admitted handshakes, which also waits for their sockets. */
    public Steps executor() {
        return stepsView;
    }

    private final class StepsImpl implements Steps {
        /** Never full, refused only when closed. */
        @Override
        public void execute(Runnable task) {
            Worker wake;
            synchronized (lock) {
                if (closed) {
                    throw new RejectedExecutionException("handshake workers closed");
                }
                steps.add(task);
                wake = idle.poll();
            }
            if (wake != null) {
                wake.readiness.wakeup();
            }
        }

        @Override
        public void onReadable(SocketChannel ch, Runnable callback) {
            await(ch, SelectionKey.OP_READ, callback);
        }

        @Override
        public void onWritable(SocketChannel ch, Runnable callback) {
            await(ch, SelectionKey.OP_WRITE, callback);
        }

        private void await(SocketChannel ch, int op, Runnable callback) {
            if (Thread.currentThread() instanceof Worker w && w.of(HandshakeWorkers.this)) {
                if (w.readiness.canArmNow(ch)) {
                    w.readiness.arm(ch, op, callback); // the usual case: no other thread, no wake-up
                } else {
                    w.later.add(() -> w.readiness.arm(ch, op, callback));
                }
            } else {
                execute(() -> await(ch, op, callback)); // from a look-up or a timer: a worker takes it up
            }
        }

        @Override
        public void release(SocketChannel ch) {
            for (Worker w : workers) {
                if (w.readiness.release(ch) && Thread.currentThread() != w) {
                    w.readiness.wakeup(); // its next select lets go of the key (and of a closed socket's descriptor) now
                }
            }
        }
    }

    private void work(Worker w) {
        try {
            boolean selected = false; // a wait just ended with no socket ready (woken for a task): no second look needed
            while (!closed) {
                if (!selected) {
                    w.readiness.select(0); // sockets that are ready go before anything queued
                }
                selected = false;
                if (w.readiness.anyReady()) {
                    dispatch(w);
                    continue;
                }
                Runnable task;
                synchronized (lock) {
                    if (closed) {
                        return;
                    }
                    task = steps.isEmpty() ? connects.poll() : steps.poll();
                    if (task == null) {
                        idle.add(w);
                    }
                }
                if (task != null) {
                    run(task);
                    runLater(w);
                    continue;
                }
                w.readiness.select(1000); // a socket, a task (wakeup) or closing ends the wait
                synchronized (lock) {
                    idle.remove(w);
                }
                selected = !w.readiness.anyReady();
                dispatch(w);
            }
        } catch (IOException e) {
            Fatal.stop(w.getName(), e); // a selector that cannot select would hang every handshake it waits for
        } finally {
            w.readiness.close();
        }
    }

    private void dispatch(Worker w) {
        w.readiness.dispatch(this::run);
        runLater(w);
    }

    private static void runLater(Worker w) {
        Runnable r;
        while ((r = w.later.poll()) != null) {
            r.run();
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
        }
        for (Worker w : workers) {
            w.readiness.wakeup();
            w.interrupt();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Worker w : workers) {
            try {
                w.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (w.isAlive()) {
                LOG.warning("handshake worker " + w.getName() + " did not stop within 5 s");
            }
        }
    }
}
