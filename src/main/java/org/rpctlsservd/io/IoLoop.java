package org.rpctlsservd.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SelectableChannel;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.guard.Fatal;

/**
 * One selector thread that waits for sockets on behalf of handshakes (and sessions), so that no
 * worker is held while a peer is slow. Interest is one-shot: a callback fires once per request and
 * runs on this thread, where it must only do non-blocking work (read available bytes, hand off).
 * What the kernel is told is not one-shot: a callback that asks again for the same event from
 * inside itself (the usual case: read, then wait for more) leaves the epoll registration as it
 * was, and a request made on this thread needs no wake-up; so a busy socket costs no epoll_ctl
 * and no wake-up write per event.
 * The daemon cannot live without this thread: an Error in a callback ends the process
 * ({@link Fatal}), a RuntimeException is logged and the loop goes on.
 */
public final class IoLoop implements Closeable {
    private static final Logger LOG = Logger.getLogger(IoLoop.class.getName());

    private final Selector selector;
    private final Thread thread;
    private final Queue<Runnable> pending = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    /** What a registration waits for. */
    private static final class Interest {
        Runnable onReadable;
        Runnable onWritable;
        Runnable onConnectable;
        Runnable onAcceptable;
    }

    public IoLoop(String name) throws IOException {
        selector = Selector.open();
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Calls {@code callback} (on the loop thread) once {@code ch} is readable or at end of stream. */
    public void onReadable(SocketChannel ch, Runnable callback) {
        request(ch, SelectionKey.OP_READ, callback);
    }

    /** Calls {@code callback} (on the loop thread) once {@code ch} can take more bytes. */
    public void onWritable(SocketChannel ch, Runnable callback) {
        request(ch, SelectionKey.OP_WRITE, callback);
    }

    /** Calls {@code callback} (on the loop thread) once a non-blocking connect of {@code ch} has finished or failed. */
    public void onConnectable(SocketChannel ch, Runnable callback) {
        request(ch, SelectionKey.OP_CONNECT, callback);
    }

    /** Calls {@code callback} (on the loop thread) once {@code listener} has a connection waiting. */
    public void onAcceptable(ServerSocketChannel listener, Runnable callback) {
        request(listener, SelectionKey.OP_ACCEPT, callback);
    }

    private void request(SelectableChannel ch, int op, Runnable callback) {
        if (Thread.currentThread() == thread) {
            SelectionKey k = ch.keyFor(selector);
            if (k == null || k.isValid()) {
                arm(ch, op, callback);
                return;
            }
        }
        submit(() -> arm(ch, op, callback)); // a cancelled key is flushed (selectNow) outside the key iteration

    }

    /** True on this loop's own thread. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code task} on the loop thread. */
    public void submit(Runnable task) {
        pending.add(task);
        if (Thread.currentThread() != thread) {
            selector.wakeup(); // the loop runs what is pending before it selects again
        }
    }

    /** Drops every interest in {@code ch} (it is about to be closed or handed on). */
    public void forget(SelectableChannel ch) {
        submit(() -> {
            SelectionKey k = ch.keyFor(selector);
            if (k != null) {
                k.cancel();
            }
        });
    }

    private void arm(SelectableChannel ch, int op, Runnable callback) {
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
            if (op == SelectionKey.OP_READ) {
                in.onReadable = callback;
            } else if (op == SelectionKey.OP_WRITE) {
                in.onWritable = callback;
            } else if (op == SelectionKey.OP_ACCEPT) {
                in.onAcceptable = callback;
            } else {
                in.onConnectable = callback;
            }
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

    private void run() {
        while (!closed) {
            try {
                if (pending.isEmpty()) {
                    selector.select(1000);
                } else {
                    selector.selectNow(); // tasks this thread queued for itself: no wake-up was written for them
                }
            } catch (IOException e) {
                Fatal.stop(thread.getName(), e); // a selector that cannot select would spin or hang every socket
                return;
            }
            Runnable r;
            while ((r = pending.poll()) != null) {
                safely(r);
            }
            for (SelectionKey k : selector.selectedKeys()) {
                Interest in = (Interest) k.attachment();
                Runnable read = null;
                Runnable write = null;
                Runnable connect = null;
                Runnable accept = null;
                try {
                    int ready = k.readyOps();
                    if ((ready & SelectionKey.OP_READ) != 0 && in.onReadable != null) {
                        read = in.onReadable;
                        in.onReadable = null;
                    }
                    if ((ready & SelectionKey.OP_WRITE) != 0 && in.onWritable != null) {
                        write = in.onWritable;
                        in.onWritable = null;
                    }
                    if ((ready & SelectionKey.OP_CONNECT) != 0 && in.onConnectable != null) {
                        connect = in.onConnectable;
                        in.onConnectable = null;
                    }
                    if ((ready & SelectionKey.OP_ACCEPT) != 0 && in.onAcceptable != null) {
                        accept = in.onAcceptable;
                        in.onAcceptable = null;
                    }
                } catch (CancelledKeyException e) {
                    read = in.onReadable;
                    write = in.onWritable;
                    connect = in.onConnectable;
                    accept = in.onAcceptable;
                    in.onReadable = null;
                    in.onWritable = null;
                    in.onConnectable = null;
                    in.onAcceptable = null;
                }
                if (accept != null) {
                    safely(accept);
                }
                if (connect != null) {
                    safely(connect);
                }
                if (read != null) {
                    safely(read);
                }
                if (write != null) {
                    safely(write);
                }
                settle(k, in);
            }
            selector.selectedKeys().clear();
        }
    }

    /** After the callbacks: the kernel keeps watching only what some callback still waits for. */
    private static void settle(SelectionKey k, Interest in) {
        int want = (in.onReadable != null ? SelectionKey.OP_READ : 0) | (in.onWritable != null ? SelectionKey.OP_WRITE : 0)
                | (in.onConnectable != null ? SelectionKey.OP_CONNECT : 0) | (in.onAcceptable != null ? SelectionKey.OP_ACCEPT : 0);
        try {
            if (k.isValid() && k.interestOps() != want) {
                k.interestOps(want);
            }
        } catch (CancelledKeyException e) {
            // closed by a callback: nothing to watch
        }
    }

    private static void safely(Runnable r) {
        Fatal.run("I/O callback", r);
    }

    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            thread.join(5000);
            selector.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            LOG.fine(() -> "closing selector: " + e.getMessage());
        }
    }
}
