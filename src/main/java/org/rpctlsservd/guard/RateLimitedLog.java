package org.rpctlsservd.guard;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Warnings that repeat under attack (refused connections, full queues, bad clients) at most once
 * per interval and kind, with the count of those suppressed since, so that a flood of events is
 * never a flood of syslog lines. Kinds are fixed strings from the code, so the table stays small.
 */
public final class RateLimitedLog {
    /** One line per kind per this interval. */
    public static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Logger log;
    private final long intervalNanos;
    private final ConcurrentHashMap<String, Kind> kinds = new ConcurrentHashMap<>();

    private static final class Kind {
        long lastNanos;
        long suppressed;
        boolean logged;
    }

    /** Loaded with this class, not at the first warning: that may come at the file-descriptor limit, when no class file can be opened. */
    @SuppressWarnings("unused")
    private static final Class<?> LOADED_EARLY = Kind.class;

    public RateLimitedLog(Logger log) {
        this(log, INTERVAL_NANOS);
    }

    public RateLimitedLog(Logger log, long intervalNanos) {
        this.log = log;
        this.intervalNanos = intervalNanos;
    }

    public void warning(String kind, Supplier<String> message) {
        log(Level.WARNING, kind, message);
    }

    public void info(String kind, Supplier<String> message) {
        log(Level.INFO, kind, message);
    }

    /** Logs {@code message} unless a line of this kind went out less than an interval ago. */
    public void log(Level level, String kind, Supplier<String> message) {
        if (!log.isLoggable(level)) {
            return;
        }
        Kind k = kinds.computeIfAbsent(kind, x -> new Kind());
        long suppressed;
        synchronized (k) {
            long now = System.nanoTime();
            if (k.logged && now - k.lastNanos < intervalNanos) {
                k.suppressed++;
                return;
            }
            suppressed = k.suppressed;
            k.suppressed = 0;
            k.lastNanos = now;
            k.logged = true;
        }
        String text = message.get();
        log.log(level, suppressed == 0 ? text
                : text + " (and " + suppressed + " more like this since the last such line)");
    }
}
