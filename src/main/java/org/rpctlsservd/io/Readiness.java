package org.rpctlsservd.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A selector whose registrations carry one-shot callbacks, for the one thread that owns it (an
 * {@link IoLoop}, or a handshake worker that waits for its own handshakes' sockets). A callback
 * fires once per request. What the kernel is told is not one-shot: a callback that asks again for
 * the same event from inside itself (the usual case: read, then wait for more) leaves the epoll
 * registration as it was, so a busy socket costs no epoll_ctl per event.
 */
public final class Readiness implements Closeable {
    private static final Logger LOG = Logger.getLogger(Readiness.class.getName());

    private final Selector selector;
    /** The callbacks due for one ready key; the owner's thread only, reused so dispatching allocates nothing. */
    private final Runnable[] due = new Runnable[OPS.length];

    /** The operations a registration may wait for, in the order their callbacks run when ready together. */
    private static final int[] OPS = {SelectionKey.OP_CONNECT, SelectionKey.OP_ACCEPT, SelectionKey.OP_READ, SelectionKey.OP_WRITE};

    /** What a registration waits for: a callback per operation of {@link #OPS}, or null. */
    private static final class Interest {
        final Runnable[] waiting = new Runnable[OPS.length];

        int ops() {
            int want = 0;
            for (int i = 0; i < OPS.length; i++) {
                if (waiting[i] != null) {
                    want |= OPS[i];
                }
            }
            return want;
        }
    }

    private static int slot(int op) {
        for (int i = 0; i < OPS.length; i++) {
            if (OPS[i] == op) {
                return i;
            }
        }
        throw new IllegalArgumentException("operation " + op);
    }

    public Readiness() throws IOException {
        selector = Selector.open();
    }

    /**
     * True when {@link #arm} may run now, on the owner's thread, even from inside a callback: the
     * channel has no cancelled key waiting to be flushed (that takes a selectNow, which must not
     * run while the ready keys are being gone through).
     */
    public boolean canArmNow(SelectableChannel ch) {
        SelectionKey k = ch.keyFor(selector);
        return k == null || k.isValid();
    }

    /** On the owner's thread: calls {@code callback} once {@code ch} is ready for {@code op} (a SelectionKey.OP_ bit). */
    public void arm(SelectableChannel ch, int op, Runnable callback) {
        try {
            SelectionKey k = ch.keyFor(selector);
            Interest in;
            if (k == null || !k.isValid()) {
                if (k != null) {
                    selector.selectNow(); // flush the cancelled key before registering again
                }
                in = new Interest();
                k = ch.register(selector, 0, in);
            } else {
                in = (Interest) k.attachment();
            }
            in.waiting[slot(op)] = callback;
            if ((k.interestOps() & op) == 0) {
                k.interestOps(k.interestOps() | op);
            }
        } catch (ClosedChannelException | CancelledKeyException e) {
            callback.run(); // the callback's read or write will see the closed channel
        } catch (IOException e) {
            LOG.log(Level.WARNING, "selector failed", e);
            callback.run();
        }
    }

    /**
     * From any thread: {@code ch} is no longer watched here (its key goes at the owner's next
     * select, and a closed channel's descriptor with it). True when it was watched.
     */
    public boolean release(SelectableChannel ch) {
        SelectionKey k = ch.keyFor(selector);
        if (k == null) {
            return false;
        }
        k.cancel();
        return true;
    }

    /**
     * On the owner's thread, outside the dispatch of ready keys: lets go of the cancelled keys now,
     * and with them the descriptors of channels closed while registered. (Keys it finds ready are
     * dispatched with the next ones.)
     */
    public void flushCancelled() {
        try {
            selector.selectNow();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "selector failed", e);
        }
    }

    /** On the owner's thread: waits up to {@code millis} (0: not at all) for a ready channel or a wake-up. */
    public void select(long millis) throws IOException {
        if (millis == 0) {
            selector.selectNow();
        } else {
            selector.select(millis);
        }
    }

    /** From any thread: the owner's current or next {@link #select} returns at once. */
    public void wakeup() {
        selector.wakeup();
    }

    /** True when the last select found channels whose callbacks {@link #dispatch} would run. */
    public boolean anyReady() {
        return !selector.selectedKeys().isEmpty();
    }

    /**
     * On the owner's thread, after a select: hands each ready channel's callbacks to {@code run}
     * (connect, accept, read, then write), then lets the kernel watch only what some callback
     * still waits for.
     */
    public void dispatch(Consumer<Runnable> run) {
        for (SelectionKey k : selector.selectedKeys()) {
            Interest in = (Interest) k.attachment();
            int ready;
            try {
                ready = k.readyOps();
            } catch (CancelledKeyException e) {
                ready = -1; // closed meanwhile: every waiting callback sees it
            }
            for (int i = 0; i < OPS.length; i++) { // all taken first: a callback may ask again for its own event
                due[i] = (ready & OPS[i]) != 0 ? in.waiting[i] : null;
                if (due[i] != null) {
                    in.waiting[i] = null;
                }
            }
            for (Runnable r : due) {
                if (r != null) {
                    run.accept(r);
                }
            }
            try {
                // the kernel watches only what some callback still waits for
                int want = in.ops();
                if (k.isValid() && k.interestOps() != want) {
                    k.interestOps(want);
                }
            } catch (CancelledKeyException e) {
                // closed by a callback: nothing to watch
            }
        }
        selector.selectedKeys().clear();
    }

    @Override
    public void close() {
        try {
            selector.close();
        } catch (IOException e) {
            LOG.fine(() -> "closing a selector: " + e.getMessage());
        }
    }
}
