package org.rpctlsservd.guard;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Accepting on a blocking listener without spinning at the file-descriptor limit. On EMFILE or
 * ENFILE the connection stays in the kernel's queue and accept fails again at once; looping on
 * that burns a core and leaves clients hanging. Instead: give up a spare descriptor kept for this
 * moment, accept and close the waiting connections (their clients see the refusal at once), take
 * the spare back, pause briefly, and log once per interval with the count.
 */
public final class Acceptor implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** How long accepting pauses after running out of descriptors. */
    static final long PAUSE_MILLIS = 100;

    private final ServerSocketChannel listener;
    private final String name;
    private final RateLimitedLog warnings = new RateLimitedLog(LOG);
    private FileChannel spare;
    private long refused;

    public Acceptor(ServerSocketChannel listener, String name) {
        this.listener = listener;
        this.name = name;
        this.spare = openSpare();
    }

    /** True when {@code e} says the process or system is out of file descriptors. */
    public static boolean outOfDescriptors(IOException e) {
        String m = e.getMessage();
        return m != null && m.contains("Too many open files");
    }

    /**
     * The next connection, or null after a failure that was handled here (out of descriptors: the
     * waiting clients were refused and accepting paused). Other failures are thrown.
     */
    public SocketChannel accept() throws IOException {
        try {
            return listener.accept();
        } catch (IOException e) {
            if (!outOfDescriptors(e) || !listener.isOpen()) {
                throw e;
            }
            shed();
            return null;
        }
    }

    /** Connections refused for lack of descriptors so far. */
    public synchronized long refused() {
        return refused;
    }

    private void shed() {
        int n = 0;
        synchronized (this) {
            closeSpare();
            try {
                listener.configureBlocking(false);
                try {
                    SocketChannel c;
                    // at most a listen backlog's worth: the queue is drained, not raced forever
                    while (n < 1024 && (c = listener.accept()) != null) {
                        c.close();
                        n++;
                    }
                } finally {
                    listener.configureBlocking(true);
                }
            } catch (IOException e) {
                // still no descriptor even with the spare given up: nothing to shed now
            }
            refused += n;
            spare = openSpare();
        }
        long total = refused();
        int shed = n;
        warnings.warning("emfile", () -> name + ": out of file descriptors; refused " + shed + " waiting connection(s) ("
                + total + " so far) and paused accepting for " + PAUSE_MILLIS + " ms");
        try {
            TimeUnit.MILLISECONDS.sleep(PAUSE_MILLIS); // a back-off on this listener's own thread
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static FileChannel openSpare() {
        try {
            return FileChannel.open(Path.of("/dev/null"), StandardOpenOption.READ);
        } catch (IOException e) {
            return null; // out of descriptors already: taken again at the next shed
        }
    }

    private void closeSpare() {
        if (spare != null) {
            try {
                spare.close();
            } catch (IOException ignored) {
                // a /dev/null descriptor: nothing to report
            }
            spare = null;
        }
    }

    @Override
    public synchronized void close() {
        closeSpare();
    }
}
