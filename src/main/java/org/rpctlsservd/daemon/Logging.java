package org.rpctlsservd.daemon;

import java.io.PrintStream;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * java.util.logging set up as the C daemon logs: verbose activity (FINE) only with -v; with -d
 * readable lines on stderr; detached, lines carrying a syslog priority prefix ({@code <30>} is
 * daemon.info) for logger(1) to pass on to syslog.
 */
public final class Logging {
    private Logging() {
    }

    public static void configure(boolean verbose, boolean syslogPrefix, PrintStream err) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Level level = verbose ? Level.FINE : Level.INFO;
        root.setLevel(level);
        Handler h = new StreamHandler(err, syslogPrefix ? new Syslog() : new Plain()) {
            @Override
            public synchronized void publish(LogRecord record) {
                super.publish(record);
                flush();
            }
        };
        h.setLevel(level);
        root.addHandler(h);
    }

    static String text(Formatter f, LogRecord r) {
        String msg = f.formatMessage(r);
        if (r.getThrown() != null) {
            msg += ": " + r.getThrown();
        }
        return msg;
    }

    private static final class Plain extends Formatter {
        @Override
        public String format(LogRecord r) {
            return Instant.ofEpochMilli(r.getMillis()) + " " + r.getLevel().getName() + " " + text(this, r) + "\n";
        }
    }

    private static final class Syslog extends Formatter {
        @Override
        public String format(LogRecord r) {
            int severity;
            int v = r.getLevel().intValue();
            if (v >= Level.SEVERE.intValue()) {
                severity = 3;
            } else if (v >= Level.WARNING.intValue()) {
                severity = 4;
            } else {
                severity = 6;
            }
            // facility daemon (3); one line per record, newlines folded for syslog
            return "<" + (3 * 8 + severity) + ">" + text(this, r).replace('\n', ' ') + "\n";
        }
    }
}
