package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.io.IoLoop;

/**
 * The outbound queue's lending: bytes queued as views of a buffer the loop reuses are written from
 * there, and whatever a full socket leaves of them is copied before that buffer is written over, so
 * the peer gets every byte as it was lent, in order, with owned buffers between them.
 */
class OutboundTest {

    @Test
    void lentBytesAFullSocketLeavesAreCopiedBeforeTheirBufferIsReused() throws Exception {
        byte[] pattern = new byte[3 << 20];
        new Random(21).nextBytes(pattern);
        byte[] owned = new byte[100_000];
        Arrays.fill(owned, (byte) 7);
        ByteArrayStream expected = new ByteArrayStream();
        expected.add(pattern, 0, 1 << 20);
        expected.add(owned, 0, owned.length);
        expected.add(pattern, 1 << 20, 2 << 20);

        try (IoLoop io = new IoLoop("outbound-test");
                ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                SocketChannel writer = SocketChannel.open()) {
            writer.setOption(StandardSocketOptions.SO_SNDBUF, 16 * 1024); // a socket that takes little at a time
            writer.connect(server.getLocalAddress());
            writer.configureBlocking(false);
            try (SocketChannel reader = server.accept()) {
                reader.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
                List<Outbound> borrowers = new ArrayList<>();
                Outbound[] out = new Outbound[1];
                CompletableFuture<String> failed = new CompletableFuture<>();
                ByteBuffer shared = ByteBuffer.wrap(pattern.clone()); // the loop's reused buffer
                long[] left = new long[1];
                onLoop(io, () -> {
                    out[0] = new Outbound(io, "the peer", 256 * 1024, () -> { }, () -> out[0].flush(), failed::complete, n -> { },
                            () -> false, new AtomicLong(), borrowers::add);
                    out[0].open(writer);
                    out[0].lend(shared.duplicate().position(0).limit(1 << 20));
                    out[0].add(ByteBuffer.wrap(owned));
                    out[0].lend(shared.duplicate().position(1 << 20).limit(3 << 20));
                    assertEquals(1, borrowers.size(), "the queue told the loop once that it holds lent bytes");
                    out[0].flush(); // writes what the socket takes, copies the rest
                    Arrays.fill(shared.array(), (byte) 0); // the loop reuses its buffer
                    left[0] = out[0].bytes;
                    return null;
                });
                assertTrue(left[0] > 0, "the socket could not take it all at once");
                byte[] got = new byte[expected.size()];
                reader.socket().setSoTimeout(10_000);
                InputStream in = reader.socket().getInputStream();
                int have = 0;
                while (have < got.length) {
                    int n = in.read(got, have, got.length - have);
                    assertTrue(n > 0, "the stream ended after " + have + " bytes");
                    have += n;
                }
                assertArrayEquals(expected.toArray(), got, "every byte as it was lent, in order");
                assertEquals(0L, onLoop(io, () -> out[0].bytes), "the queue's count came back to nothing");
                assertTrue(!failed.isDone(), "no write failed");
            }
        }
    }

    private static <T> T onLoop(IoLoop io, Supplier<T> task) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        io.submit(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f.get(10, TimeUnit.SECONDS);
    }

    private static final class ByteArrayStream {
        private final java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();

        void add(byte[] a, int off, int len) {
            b.write(a, off, len);
        }

        int size() {
            return b.size();
        }

        byte[] toArray() {
            return b.toByteArray();
        }
    }
}
