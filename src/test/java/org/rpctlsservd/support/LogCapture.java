package org.rpctlsservd.support;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/** Collects the daemon's log lines (verbose ones included) while open. */
public final class LogCapture extends Handler implements AutoCloseable {
    private final Logger logger;
    private final Level previous;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    public LogCapture(String name) {
        logger = Logger.getLogger(name);
        previous = logger.getLevel();
        logger.setLevel(Level.ALL);
        logger.addHandler(this);
    }

    public static LogCapture daemon() {
        return new LogCapture("rpctlssd");
    }

    @Override
    public void publish(LogRecord record) {
        records.add(record);
    }

    /** The records themselves: level and logger name too. */
    public List<LogRecord> records() {
        return List.copyOf(records);
    }

    public List<String> lines() {
        return records.stream().map(LogRecord::getMessage).collect(Collectors.toList());
    }

    /** Lines logged at INFO or above (what is logged without -v). */
    public List<String> alwaysLines() {
        return records.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue())
                .map(LogRecord::getMessage).collect(Collectors.toList());
    }

    public boolean has(String fragment) {
        return lines().stream().anyMatch(l -> l.contains(fragment));
    }

    public String find(String fragment) {
        return lines().stream().filter(l -> l.contains(fragment)).findFirst().orElse(null);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        logger.removeHandler(this);
        logger.setLevel(previous);
    }
}
