package org.rpctlsservd.guard;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Fail fast: an Error (OutOfMemoryError above all) or an unexpected exception in a thread the
 * daemon cannot live without logs one line and ends the process with status 70 (EX_SOFTWARE), so
 * that a supervisor restarts it; a daemon with a dead I/O loop would accept clients and never
 * answer them. The process is halted, not exited: shutdown hooks might need the heap or the very
 * thread that died.
 */
public final class Fatal {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** EX_SOFTWARE from sysexits.h. */
    public static final int STATUS = 70;

    private Fatal() {
    }

    /** Makes every thread's uncaught Error or exception fatal. */
    public static void install() {
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> stop(t.getName(), e));
    }

    /** Logs one line and halts the process. */
    public static void stop(String thread, Throwable e) {
        try {
            LOG.log(Level.SEVERE, "fatal: thread " + thread + " failed with " + e + "; stopping so that a supervisor can restart the daemon");
        } catch (Throwable ignored) {
            // out of memory even for the log line: stop all the same
        }
        Runtime.getRuntime().halt(STATUS);
    }

    /**
     * For tasks of a thread that must outlive them (an I/O loop, a timer): a RuntimeException is a
     * bug in one task and is logged; an Error is fatal.
     */
    public static void run(String what, Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, what + " failed", e);
        } catch (Error e) {
            stop(Thread.currentThread().getName(), e);
        }
    }

    /** {@code task} wrapped by {@link #run}, for executors that would swallow its Error. */
    public static Runnable guarded(String what, Runnable task) {
        return () -> run(what, task);
    }
}
