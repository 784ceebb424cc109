package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.rpctlsservd.io.IoLoop;

/**
 * The relay's last stage for one side of a connection: the bytes waiting for it, written without
 * blocking, whatever produced them. It bounds nothing itself: its owner stops reading whoever fills
 * it past the high-water mark, and is told when it has drained below the low one. A side that takes
 * no bytes for the write timeout is found by {@link #stuckFor}. Used on its connection's loop only.
 *
 * <p>Bytes come owned ({@link #add}: the queue keeps the buffer) or lent ({@link #lend}: a view of
 * a buffer the loop reuses, the records just opened in its read buffer or sealed in its seal
 * room). Lent bytes are written from where they are, with what else is queued, in one gathering
 * write; only what the socket does not take is copied, by {@link #settle}, which every
 * {@link #flush} ends with and the loop runs before it reuses those buffers.
 */
final class Outbound {
    /** A queued buffer's cost beyond its bytes: the ByteBuffer, its array header, the queue slot. */
    static final long BUFFER_OVERHEAD = 96;

    private final IoLoop io;
    final String side;
    private final long lowWater;
    private final Runnable drained;
    private final Runnable writableAgain;
    private final Consumer<String> failed;
    private final LongConsumer progressed;
    private final BooleanSupplier closed;
    private final AtomicLong peak;
    private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();
    /** Told when this queue first holds lent bytes since it last settled (the loop settles it before reusing its buffers). */
    private final Consumer<Outbound> borrowing;
    /** The last this many buffers of the queue are (or follow) lent ones: views of the loop's buffers, copied if they must wait. */
    private int lent;
    /** Buffers handed to one gathering write (the socket's loop only, so one array serves). */
    private static final int BATCH = 16;
    private final ByteBuffer[] batch = new ByteBuffer[BATCH];
    private SocketChannel channel;
    long bytes;
    private boolean armed;
    /** When bytes were last taken by the socket, or first queued after an empty queue. */
    private long lastProgress = System.nanoTime();

    /**
     * @param drained       the queue went below {@code lowWater}: whoever was paused for it may be read again
     * @param writableAgain the socket can take more after it was full (the owner flushes, and may do more)
     * @param failed        a write failed: the owner tears the connection down with this reason
     * @param progressed    a buffer of this many bytes was taken whole (the connection is not idle)
     */
    Outbound(IoLoop io, String side, long lowWater, Runnable drained, Runnable writableAgain, Consumer<String> failed,
            LongConsumer progressed, BooleanSupplier closed, AtomicLong peak, Consumer<Outbound> borrowing) {
        this.borrowing = borrowing;
        this.io = io;
        this.side = side;
        this.lowWater = lowWater;
        this.drained = drained;
        this.writableAgain = writableAgain;
        this.failed = failed;
        this.progressed = progressed;
        this.closed = closed;
        this.peak = peak;
    }

    /** From now on the bytes go to {@code ch} (until then they wait: the backend is being connected). */
    void open(SocketChannel ch) {
        this.channel = ch;
    }

    /** Queues {@code b}, which the queue keeps (owned). */
    void add(ByteBuffer b) {
        queue(b);
        if (lent > 0) {
            lent++; // behind lent bytes: settled with them (a copy it did not need, only when the socket is full)
        }
    }

    private void queue(ByteBuffer b) {
        if (queue.isEmpty()) {
            lastProgress = System.nanoTime();
        }
        ByteBuffer own = b.slice(); // position 0: what is taken off below is exactly what was counted here
        queue.add(own);
        bytes += own.remaining();
        long now = footprint();
        if (now > peak.get()) { // read first: the peak is shared by every loop, and rarely moves
            peak.accumulateAndGet(now, Math::max);
        }
    }

    /**
     * Queues a view of bytes in a buffer the loop reuses (not copied now): written with the next
     * {@link #flush}, and whatever of it the socket does not take then is copied.
     */
    void lend(ByteBuffer view) {
        if (!view.hasRemaining()) {
            return;
        }
        if (lent == 0) {
            borrowing.accept(this);
        }
        queue(view);
        lent++;
    }

    /** Copies the lent bytes still queued, so the buffers they are in may be used again; the queue keeps its order. */
    void settle() {
        if (lent == 0) {
            return;
        }
        int k = Math.min(lent, queue.size());
        lent = 0;
        if (k == 0) {
            return;
        }
        ByteBuffer[] waiting = new ByteBuffer[k];
        for (int i = k - 1; i >= 0; i--) {
            waiting[i] = queue.pollLast();
        }
        for (ByteBuffer v : waiting) {
            if (v.position() > 0) {
                bytes -= v.position(); // written already: counted off here, as its copy holds only the rest
                progressed.accept(v.position());
            }
            ByteBuffer copy = ByteBuffer.allocate(v.remaining());
            copy.put(v).flip();
            queue.add(copy);
        }
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Drops what waits: its side closed the connection, so nobody reads it (a record cut short stays cut: the owner sees to that). */
    void discard() {
        queue.clear();
        bytes = 0;
        lent = 0;
    }

    /** What the queue costs the heap: its bytes plus each buffer's object overhead (small replies are mostly overhead). */
    long footprint() {
        return bytes + BUFFER_OVERHEAD * queue.size();
    }

    /** True when bytes have waited for this side longer than {@code nanos} without any being taken. */
    boolean stuckFor(long now, long nanos) {
        return !queue.isEmpty() && now - lastProgress > nanos;
    }

    /**
     * Writes what the socket takes now and waits for the rest (lent bytes among it are copied);
     * false when the connection failed or is closed.
     */
    boolean flush() {
        try {
            return write();
        } finally {
            settle();
        }
    }

    private boolean write() {
        if (closed.getAsBoolean()) {
            return false;
        }
        if (armed || channel == null) {
            return true; // the rest goes when the socket is writable (or connected)
        }
        try {
            while (!queue.isEmpty()) {
                // One gathering write for up to BATCH buffers: TLS records of a bulk reply, or replies that queued together.
                int n = 0;
                long offered = 0;
                for (ByteBuffer b : queue) {
                    batch[n++] = b;
                    offered += b.remaining();
                    if (n == BATCH) {
                        break;
                    }
                }
                long written;
                try {
                    written = channel.write(batch, 0, n);
                } finally {
                    java.util.Arrays.fill(batch, 0, n, null);
                }
                if (written > 0) {
                    lastProgress = System.nanoTime();
                }
                while (!queue.isEmpty() && !queue.peek().hasRemaining()) {
                    ByteBuffer done = queue.poll();
                    bytes -= done.limit();
                    if (lent > queue.size()) {
                        lent--; // a lent one went whole
                    }
                    progressed.accept(done.limit());
                }
                if (written < offered) {
                    armed = true; // the socket took less than offered: it is full
                    io.onWritable(channel, () -> {
                        armed = false;
                        writableAgain.run();
                    });
                    return true;
                }
            }
        } catch (IOException e) {
            failed.accept(side + " write failed: " + org.rpctlsservd.guard.LogText.why(e, side));
            return false;
        }
        if (footprint() < lowWater) {
            drained.run();
        }
        return true;
    }

    /** What the socket takes now, without waiting, before the connection is closed (an alert, say). */
    void lastWrite() {
        try {
            for (ByteBuffer b : queue) {
                if (channel == null || channel.write(b) == 0 || b.hasRemaining()) {
                    return;
                }
            }
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
