package org.rpctlsservd.guard;

import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon's timer thread. A scheduled task's failure is kept in its Future, where nobody looks:
 * a periodic sweep that threw once would silently never run again. Here an Error in any task,
 * and any failure of a periodic task, is fatal; a one-shot task's exception is logged.
 */
public final class Timers {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private Timers() {
    }

    public static ScheduledExecutorService single(String name) {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, name);
            th.setDaemon(true);
            return th;
        }) {
            @Override
            protected void afterExecute(Runnable r, Throwable thrown) {
                super.afterExecute(r, thrown);
                if (!(r instanceof Future) || !((Future<?>) r).isDone()) {
                    return; // a periodic task that ran fine is not done
                }
                Throwable failure;
                try {
                    ((Future<?>) r).get();
                    return;
                } catch (CancellationException e) {
                    return;
                } catch (ExecutionException e) {
                    failure = e.getCause();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                boolean periodic = r instanceof java.util.concurrent.RunnableScheduledFuture
                        && ((java.util.concurrent.RunnableScheduledFuture<?>) r).isPeriodic();
                if (failure instanceof Error || periodic) {
                    Fatal.stop(name, failure);
                } else {
                    LOG.log(Level.SEVERE, "timer task failed", failure);
                }
            }
        };
        t.setRemoveOnCancelPolicy(true);
        return t;
    }
}
