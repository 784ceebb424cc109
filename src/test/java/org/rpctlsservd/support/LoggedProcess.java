package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A child process whose output goes to a log file ({@link Commands#startLogged}), awaited until its
 * log shows a line, read from outside, killed at the close. The daemons
 * ({@link DaemonProcess}) and the OpenSSL server ({@link Rfc9289Server}) are such processes.
 */
public class LoggedProcess implements Closeable {
    public final Process process;
    public final Path log;

    protected LoggedProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Waits until {@code log} contains {@code line}, for {@code seconds} at most. When {@code p}
     * ends first, or the time runs out, it is killed and the failure shows the log;
     * {@code what} names it there ("the daemon").
     */
    public static void awaitLine(Process p, Path log, String line, String what, int seconds) {
        try {
            Await.until(() -> read(log).contains(line) || !p.isAlive(), what + " to start", seconds);
        } catch (AssertionError e) {
            p.destroyForcibly();
            throw new AssertionError(e.getMessage() + ": " + read(log));
        }
        if (!p.isAlive()) {
            throw new AssertionError(what + " did not start: " + read(log));
        }
    }

    /** {@code log}'s text so far, or "" before there is any. */
    static String read(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Its log so far. */
    public String log() {
        return read(log);
    }

    public long pid() {
        return process.pid();
    }

    /** SIGTERM; the exit status, or -1 when it did not end within {@code seconds}. */
    public int terminate(int seconds) throws InterruptedException {
        process.destroy();
        return process.waitFor(seconds, TimeUnit.SECONDS) ? process.exitValue() : -1;
    }

    /** SIGKILL, and waits (10 s at most) for it to be gone. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
