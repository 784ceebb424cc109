package org.rpctlsservd.sessions;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Live sessions by cookie, behind a read-write lock that every reader takes (the C daemon's CRL
 * walk did not, a data race this table does not repeat).
 */
public final class SessionTable {
    private static final Logger LOG = Logger.getLogger(SessionTable.class.getName());

    /** RPCTLSERR_* codes of the HANDLERECORD and DISCONNECT results, as rpctlssd.x has them (LayeringTest checks they agree). */
    public static final int RPCTLSERR_OK = 0;
    public static final int RPCTLSERR_NOCLOSE = 1;
    public static final int RPCTLSERR_NOSSL = 2;

    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<Long, Session> sessions = new HashMap<>();

    /** Enters a session; a session already under that cookie (impossible with fresh cookies) is refused. */
    public boolean put(Session s) {
        lock.writeLock().lock();
        try {
            return sessions.putIfAbsent(s.cookie(), s) == null;
        } finally {
            lock.writeLock().unlock();
        }
    }

    public Session get(long cookie) {
        lock.readLock().lock();
        try {
            return sessions.get(cookie);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Removes the session without touching its socket; null when unknown. */
    public Session remove(long cookie) {
        lock.writeLock().lock();
        try {
            return sessions.remove(cookie);
        } finally {
            lock.writeLock().unlock();
        }
    }

    public int size() {
        lock.readLock().lock();
        try {
            return sessions.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** HANDLERECORD: RPCTLSERR_OK after processing, RPCTLSERR_NOSSL for an unknown cookie. */
    public int handleRecord(long cookie) {
        Session s = get(cookie);
        if (s == null) {
            return RPCTLSERR_NOSSL;
        }
        try {
            s.handlePendingRecord();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "handlerecord for " + Cookies.tag(cookie) + " failed", e);
        }
        return RPCTLSERR_OK;
    }

    /** DISCONNECT: RPCTLSERR_OK after closing, RPCTLSERR_NOCLOSE for an unknown cookie. */
    public int disconnect(long cookie) {
        Session s = remove(cookie);
        if (s == null) {
            return RPCTLSERR_NOCLOSE;
        }
        try {
            s.disconnect();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "disconnect for " + Cookies.tag(cookie) + " failed", e);
        }
        return RPCTLSERR_OK;
    }

    /** Runs {@code action} on a snapshot of the sessions taken under the read lock. */
    public void forEach(Consumer<Session> action) {
        List<Session> snapshot;
        lock.readLock().lock();
        try {
            snapshot = new ArrayList<>(sessions.values());
        } finally {
            lock.readLock().unlock();
        }
        snapshot.forEach(action);
    }

    /** Daemon shutdown: aborts and forgets every session. */
    public void abortAll() {
        List<Session> all;
        lock.writeLock().lock();
        try {
            all = new ArrayList<>(sessions.values());
            sessions.clear();
        } finally {
            lock.writeLock().unlock();
        }
        for (Session s : all) {
            try {
                s.abort();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "abort of a session failed", e);
            }
        }
    }
}
