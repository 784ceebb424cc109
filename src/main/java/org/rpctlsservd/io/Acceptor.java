package org.rpctlsservd.io;

import org.rpctlsservd.guard.RateLimitedLog;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Accepting on one listener, for its own thread, without spinning at the file-descriptor limit.
 * On EMFILE or ENFILE a connection stays in the kernel's queue and accept fails again at once;
 * looping on that burns a core and leaves clients hanging. Instead: give up the spare descriptors
 * the process keeps for this moment, accept and close the waiting connections (their clients see
 * the refusal at once), take the spares back, pause 100 ms, and log once per interval with the
 * count. A listener is served either by a thread of its own ({@link #accept()}) or by an event
 * loop ({@link #acceptNow()}, which leaves the pause to the loop's timer). The thread waits for connections in a selector, never in a blocking accept: the kernel
 * reserves a descriptor for a blocked accept, and a listener waiting that way would take the
 * descriptor freed for refusing clients. For the same reason every listener accepts under the
 * lock that guards the spares.
 */
public final class Acceptor implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** How long accepting pauses after refusing clients at the limit. */
    static final long PAUSE_MILLIS = 100;
    /** Two, so that one taken by another thread in the moment it is free still leaves one. */
    private static final FileChannel[] SPARES = new FileChannel[2];
    private static final RateLimitedLog WARNINGS = new RateLimitedLog(LOG);
    private static long refusedTotal;

    static {
        synchronized (SPARES) {
            for (int i = 0; i < SPARES.length; i++) {
                SPARES[i] = openSpare();
            }
        }
    }

    private final ServerSocketChannel listener;
    private final String name;
    /** For {@link #accept()} only: made at its first call, so a listener served by an event loop has none. */
    private Selector selector;
    private volatile boolean closed;

    /** Thrown by {@link #acceptNow()} after it refused the waiting clients at the descriptor limit. */
    public static final class Shed extends IOException {
        private static final long serialVersionUID = 1L;

        Shed(String message) {
            super(message);
        }
    }

    /** Puts {@code listener} in non-blocking mode; accept with {@link #accept()} or {@link #acceptNow()} only. */
    public Acceptor(ServerSocketChannel listener, String name) throws IOException {
        this.listener = listener;
        this.name = name;
        listener.configureBlocking(false);
    }

    /** How long to stop accepting after a {@link Shed}. */
    public static long pauseMillis() {
        return PAUSE_MILLIS;
    }

    /** True when {@code e} says the process or system is out of file descriptors. */
    public static boolean outOfDescriptors(IOException e) {
        String m = e.getMessage();
        return m != null && m.contains("Too many open files");
    }

    /**
     * For a listener's own thread: waits for the next connection and returns it (in blocking mode),
     * or null after refusing the waiting clients at the descriptor limit and pausing. Throws
     * ClosedChannelException once closed.
     */
    public SocketChannel accept() throws IOException {
        synchronized (this) {
            if (selector == null) {
                if (closed) {
                    throw new ClosedChannelException();
                }
                selector = Selector.open();
                listener.register(selector, SelectionKey.OP_ACCEPT);
            }
        }
        while (true) {
            try {
                selector.select();
                selector.selectedKeys().clear();
            } catch (ClosedSelectorException e) {
                throw new ClosedChannelException();
            }
            if (!listener.isOpen() || Thread.currentThread().isInterrupted()) {
                throw new ClosedChannelException();
            }
            try {
                SocketChannel c = acceptNow();
                if (c != null) {
                    return c;
                }
            } catch (Shed e) {
                try {
                    TimeUnit.MILLISECONDS.sleep(PAUSE_MILLIS); // a back-off on this listener's own thread
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }
        }
    }

    /**
     * For an event loop: the next waiting connection (in blocking mode), or null when none waits.
     * At the descriptor limit it refuses the waiting clients and throws {@link Shed}: the caller
     * stops accepting for {@link #pauseMillis()}.
     */
    public SocketChannel acceptNow() throws IOException {
        try {
            synchronized (SPARES) { // so that no listener takes a descriptor another one freed for refusing
                return listener.accept();
            }
        } catch (IOException e) {
            if (!outOfDescriptors(e) || !listener.isOpen()) {
                throw e;
            }
            shed();
            throw new Shed("out of file descriptors");
        }
    }

    /** Refused for lack of descriptors so far, by all listeners. */
    private static long refused() {
        synchronized (SPARES) {
            return refusedTotal;
        }
    }

    private void shed() {
        int n = 0;
        synchronized (SPARES) {
            for (int i = 0; i < SPARES.length; i++) {
                if (SPARES[i] == null) {
                    continue;
                }
                Channels.closeQuietly(SPARES[i]);
                SPARES[i] = null;
                int before = n;
                // at most a listen backlog's worth: the queue is drained, not raced forever
                SocketChannel c;
                while (n < 1024 && (c = acceptOrNull()) != null) {
                    Channels.closeQuietly(c);
                    n++;
                }
                if (n > before) {
                    break; // that spare did it; the other stays in reserve
                }
            }
            for (int i = 0; i < SPARES.length; i++) {
                if (SPARES[i] == null) {
                    SPARES[i] = openSpare();
                }
            }
            refusedTotal += n;
        }
        long total = refused();
        int shed = n;
        WARNINGS.warning("emfile", () -> name + ": out of file descriptors; refused " + shed + " waiting connection(s) ("
                + total + " so far by all listeners); accepting paused for " + PAUSE_MILLIS + " ms");
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
            return null; // out of descriptors already: taken again after the next shed
        }
    }

    /** Wakes and ends a thread waiting in {@link #accept()}; the listener is the caller's to close. */
    @Override
    public void close() {
        Selector s;
        synchronized (this) {
            closed = true;
            s = selector;
        }
        if (s == null) {
            return;
        }
        try {
            s.close();
        } catch (IOException e) {
            LOG.fine(() -> name + ": closing the selector: " + e.getMessage());
        }
    }
}
