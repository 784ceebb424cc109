package org.rpctlsservd.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.rpctlsservd.guard.Fatal;

/**
 * One selector thread that serves sockets with non-blocking callbacks: the front end's loops and
 * the RPC service's connections. Interest is one-shot ({@link Readiness}): a callback fires once
 * per request and runs on this thread, where it must only do non-blocking work; a request made on
 * this thread needs no wake-up.
 * The daemon cannot live without this thread: an Error in a callback ends the process
 * ({@link Fatal}), a RuntimeException is logged and the loop goes on.
 */
public final class IoLoop implements Closeable {
    private final Readiness readiness;
    private final Thread thread;
    private final Queue<Runnable> pending = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    public IoLoop(String name) throws IOException {
        readiness = new Readiness();
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
        if (Thread.currentThread() == thread && readiness.canArmNow(ch)) {
            readiness.arm(ch, op, callback);
        } else {
            submit(() -> readiness.arm(ch, op, callback)); // a cancelled key is flushed outside the key iteration
        }
    }

    /** The loop thread's name. */
    public String name() {
        return thread.getName();
    }

    /** True on this loop's own thread. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code task} on the loop thread. */
    public void submit(Runnable task) {
        pending.add(task);
        if (Thread.currentThread() != thread) {
            readiness.wakeup(); // the loop runs what is pending before it selects again
        }
    }

    /**
     * Runs {@code task} on this loop after {@code delay} (the one "schedule on this loop"): the
     * timer thread only hands it over, so the task may touch what only this loop touches.
     */
    public java.util.concurrent.ScheduledFuture<?> later(java.util.concurrent.ScheduledExecutorService timer, long delay,
            java.util.concurrent.TimeUnit unit, Runnable task) {
        return timer.schedule(() -> submit(task), delay, unit);
    }

    /** Drops every interest in {@code ch} (it is about to be closed or handed on). */
    public void forget(SelectableChannel ch) {
        submit(() -> readiness.release(ch));
    }

    /**
     * On this loop: runs {@code task} once the channels forgotten and closed before now have let go
     * of their descriptors (a registered channel's socket stays open after close() until the
     * selector flushes its cancelled key, at the select after {@link #forget}'s task): when its
     * port must be free for a new socket.
     */
    public void afterForgotten(Runnable task) {
        submit(() -> { // after forget's task, which cancelled the keys: flushing them closes the descriptors
            readiness.flushCancelled();
            task.run();
        });
    }

    private void run() {
        while (!closed) {
            try {
                // tasks this thread queued for itself had no wake-up written for them: do not wait
                readiness.select(pending.isEmpty() ? 1000 : 0);
            } catch (IOException e) {
                Fatal.stop(thread.getName(), e); // a selector that cannot select would spin or hang every socket
                return;
            }
            Runnable r;
            while ((r = pending.poll()) != null) {
                safely(r);
            }
            readiness.dispatch(IoLoop::safely);
        }
    }

    private static void safely(Runnable r) {
        Fatal.run("I/O callback", r);
    }

    @Override
    public void close() {
        closed = true;
        readiness.wakeup();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        readiness.close();
    }
}
