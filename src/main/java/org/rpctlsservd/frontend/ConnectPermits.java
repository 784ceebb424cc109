package org.rpctlsservd.frontend;

import java.util.ArrayDeque;
import java.util.concurrent.Semaphore;

/**
 * Backend connections being made at once, front-end-wide: at most {@link #LIMIT}; further
 * connections wait in a bounded queue for a permit, handed to them on their own loop. Safe from
 * any loop.
 */
final class ConnectPermits {
    /** Backend connects in progress at once. */
    static final int LIMIT = 256;
    /** Past this many waiting, a client is closed: the backend is down or far too slow. */
    static final int MAX_WAITING = 4096;

    private final Semaphore permits = new Semaphore(LIMIT);
    /** Who waits, as the task that hands it the permit on its own loop; guarded by itself (every loop uses it). */
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();

    /** A permit now, or false. */
    boolean tryAcquire() {
        return permits.tryAcquire();
    }

    /** Permits not held (for tests: none left counted after the connects are over). */
    int available() {
        return permits.availablePermits();
    }

    /**
     * {@code granted} (which goes to its connection's loop) waits for a permit; false when too many
     * wait already.
     */
    boolean waitFor(Runnable granted) {
        synchronized (waiting) {
            if (waiting.size() >= MAX_WAITING) {
                return false;
            }
            waiting.add(granted);
        }
        grant(); // a permit may have come back meanwhile
        return true;
    }

    /** A backend connect finished or was given up: its permit goes to the next waiting connection. */
    void released() {
        permits.release();
        grant();
    }

    /** A closed connection leaves the queue. */
    void stopWaiting(Runnable granted) {
        synchronized (waiting) {
            waiting.remove(granted);
        }
    }

    private void grant() {
        while (true) {
            Runnable r;
            synchronized (waiting) {
                if (waiting.isEmpty() || !permits.tryAcquire()) {
                    return;
                }
                r = waiting.poll();
            }
            r.run();
        }
    }
}
