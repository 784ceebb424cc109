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
 * that burns a core and leaves clients hanging. Instead, every listener of the process goes into
 * limit mode: it polls without blocking every 100 ms, and when the limit still holds it gives up
 * the one spare descriptor the process keeps for this moment, accepts and closes the waiting
 * connections (their clients see the refusal at once), and takes the spare back. One lock covers
 * that for all listeners, so that no other listener's accept takes the descriptor just freed. It
 * logs once per interval with the count. A poll that finds a free descriptor ends limit mode.
 */
public final class Acceptor implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** How long accepting pauses between polls at the limit. */
    static final long PAUSE_MILLIS = 100;
    private static final Object SHED = new Object();
    private static final RateLimitedLog WARNINGS = new RateLimitedLog(LOG);
    /** The process's spare descriptor; guarded by SHED. */
    private static FileChannel spare = openSpare();
    private static volatile boolean atLimit;
    private static long refusedTotal;

    private final ServerSocketChannel listener;
    private final String name;

    public Acceptor(ServerSocketChannel listener, String name) {
        this.listener = listener;
        this.name = name;
    }

    /** True when {@code e} says the process or system is out of file descriptors. */
    public static boolean outOfDescriptors(IOException e) {
        String m = e.getMessage();
        return m != null && m.contains("Too many open files");
    }

    /**
     * The next connection, or null after a pause at the descriptor limit (the waiting clients were
     * refused). Other failures are thrown.
     */
    public SocketChannel accept() throws IOException {
        if (!atLimit) {
            try {
                return listener.accept();
            } catch (IOException e) {
                if (!outOfDescriptors(e) || !listener.isOpen()) {
                    throw e;
                }
                atLimit = true;
            }
        }
        SocketChannel c = pollAtLimit();
        if (c != null) {
            return c;
        }
        if (atLimit) {
            try {
                TimeUnit.MILLISECONDS.sleep(PAUSE_MILLIS); // a back-off on this listener's own thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return null;
    }

    /** Refused for lack of descriptors so far, by all listeners. */
    public static long refused() {
        synchronized (SHED) {
            return refusedTotal;
        }
    }

    private SocketChannel pollAtLimit() throws IOException {
        int shed = 0;
        synchronized (SHED) {
            listener.configureBlocking(false);
            try {
                try {
                    SocketChannel c = listener.accept();
                    if (c == null) {
                        atLimit = false; // a descriptor was free and nobody waits: back to blocking accepts
                        if (spare == null) {
                            spare = openSpare();
                        }
                    } else {
                        c.configureBlocking(true);
                    }
                    return c;
                } catch (IOException e) {
                    if (!outOfDescriptors(e) || !listener.isOpen()) {
                        throw e;
                    }
                }
                if (spare == null) {
                    spare = openSpare(); // given up earlier and not yet taken back: try again
                }
                if (spare != null) {
                    closeQuietly(spare);
                    spare = null;
                    SocketChannel c;
                    // at most a listen backlog's worth: the queue is drained, not raced forever
                    while (shed < 1024 && (c = acceptOrNull()) != null) {
                        closeQuietly(c);
                        shed++;
                    }
                    spare = openSpare();
                }
                refusedTotal += shed;
            } finally {
                if (listener.isOpen()) {
                    listener.configureBlocking(true);
                }
            }
        }
        long total = refused();
        int n = shed;
        WARNINGS.warning("emfile", () -> name + ": out of file descriptors; refused " + n + " waiting connection(s) ("
                + total + " so far by all listeners); accepting every " + PAUSE_MILLIS + " ms until descriptors are free");
        return null;
    }

    private SocketChannel acceptOrNull() {
        try {
            return listener.accept();
        } catch (IOException e) {
            return null;
        }
    }

    private static FileChannel openSpare() {
        try {
            return FileChannel.open(Path.of("/dev/null"), StandardOpenOption.READ);
        } catch (IOException e) {
            return null; // out of descriptors already: taken again at the next poll
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // a descriptor given back: nothing to report
        }
    }

    @Override
    public void close() {
        // the spare belongs to the process, not to one listener
    }
}
