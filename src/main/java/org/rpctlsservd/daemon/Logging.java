package org.rpctlsservd.daemon;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * java.util.logging set up as the C daemon logs: verbose activity (FINE) only with -v or
 * --log-level debug, and then the daemon's own only: the libraries' loggers (Bouncy Castle, Remote
 * Tea, the JDK) stay at WARNING; with -d readable lines on stderr, or, when stderr is the journal,
 * lines with the {@code <N>} priority prefix journald reads (it stamps the time itself); detached,
 * lines carrying a syslog priority prefix ({@code <30>} is daemon.info; --syslog-facility picks
 * the facility) for logger(1) to pass on to syslog.
 */
public final class Logging {
    private Logging() {
    }

    /** How each line is written. */
    public enum Style {
        /** A timestamp, the level and the message: for a terminal or a file. */
        PLAIN,
        /** {@code <facility*8+severity>} and the message, for logger(1) --prio-prefix. */
        SYSLOG,
        /** {@code <severity>} and the message, as sd-daemon(3) prefixes: journald takes the priority from it. */
        JOURNAL
    }

    /** The loggers of the daemon's own lines; every other logger is a library's. */
    static final java.util.List<String> OWN = java.util.List.of("rpctlssd", "org.rpctlsservd");
    /** Held here: LogManager keeps loggers weakly, and a collected logger would forget its level. */
    private static final java.util.List<Logger> HELD = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * The daemon's loggers at {@code level}, the rest at WARNING (or {@code level} when that is
     * higher); lines to {@code err} in {@code style}, SYSLOG's with {@code facility}.
     */
    public static void configure(Level level, Style style, int facility, PrintStream err) {
        LogManager.getLogManager().reset();
        Handler h = new StreamHandler(err, new Lines(style, facility)) {
            @Override
            public synchronized void publish(LogRecord record) {
                super.publish(record);
                flush();
            }
        };
        Logger.getLogger("").addHandler(h);
        ours = h;
        level(level);
    }

    /** The handler {@link #configure} installed; null before (a daemon run inside tests). */
    private static volatile Handler ours;

    /**
     * The daemon's loggers and its handler at {@code level}, the libraries' loggers at WARNING (or
     * {@code level} when that is higher): at the start ({@link #configure}) and at a reload.
     */
    public static void level(Level level) {
        Handler h = ours;
        if (h != null) {
            Logger.getLogger("").setLevel(level.intValue() > Level.WARNING.intValue() ? level : Level.WARNING);
            h.setLevel(level);
        }
        for (String name : OWN) {
            Logger own = Logger.getLogger(name);
            own.setLevel(level);
            if (!HELD.contains(own)) {
                HELD.add(own);
            }
        }
    }

    /** JOURNAL when {@code $JOURNAL_STREAM} names the file that stderr is (systemd sets it so), else PLAIN. */
    static Style forStderr() {
        return isJournal(System.getenv("JOURNAL_STREAM"), Path.of("/proc/self/fd/2")) ? Style.JOURNAL : Style.PLAIN;
    }

    /** True when {@code journalStream} ("device:inode") is the device and inode of {@code stderr}. */
    static boolean isJournal(String journalStream, Path stderr) {
        if (journalStream == null || journalStream.indexOf(':') < 0) {
            return false;
        }
        try {
            String[] di = journalStream.split(":", 2);
            long dev = Long.parseLong(di[0]);
            long ino = Long.parseLong(di[1]);
            return ((Number) Files.getAttribute(stderr, "unix:dev")).longValue() == dev
                    && ((Number) Files.getAttribute(stderr, "unix:ino")).longValue() == ino;
        } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
            return false;
        }
    }

    static String text(Formatter f, LogRecord r) {
        String msg = f.formatMessage(r);
        if (r.getThrown() != null) {
            msg += ": " + r.getThrown();
        }
        return msg;
    }

    /** syslog severity: err (3), warning (4), info (6); FINE lines are info too, as -v's are in the C daemon (LOG_INFO). */
    static int severity(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return 3;
        }
        return v >= Level.WARNING.intValue() ? 4 : 6;
    }

    private static final class Lines extends Formatter {
        private final Style style;
        private final int facility;

        Lines(Style style, int facility) {
            this.style = style;
            this.facility = facility;
        }

        @Override
        public String format(LogRecord r) {
            switch (style) {
                case SYSLOG:
                    // one line per record, newlines folded for syslog
                    return "<" + (facility * 8 + severity(r.getLevel())) + ">" + text(this, r).replace('\n', ' ') + "\n";
                case JOURNAL:
                    return "<" + severity(r.getLevel()) + ">" + text(this, r).replace('\n', ' ') + "\n";
                default:
                    return Instant.ofEpochMilli(r.getMillis()) + " " + r.getLevel().getName() + " " + text(this, r) + "\n";
            }
        }
    }
}
