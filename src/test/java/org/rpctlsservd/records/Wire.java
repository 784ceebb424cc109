package org.rpctlsservd.records;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.IntUnaryOperator;

/** Test helpers: hex, a pair of layers on the same secrets, and socket-like feeding of a byte stream. */
final class Wire {
    private Wire() {
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replaceAll("\\s+", ""));
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    static byte[] bytes(ByteBuffer written) {
        ByteBuffer d = written.duplicate().flip();
        byte[] b = new byte[d.remaining()];
        d.get(b);
        return b;
    }

    static ByteBuffer direct(byte[] b) {
        ByteBuffer d = ByteBuffer.allocateDirect(b.length);
        d.put(b).flip();
        return d;
    }

    /** The server's and the client's layer of one session: each reads what the other writes. */
    static Tls13RecordLayer[] pair(Tls13Suite suite, byte[] clientSecret, byte[] serverSecret, long keyUsageLimit) {
        Tls13RecordLayer server = Tls13RecordLayer.of(Tls13RecordLayer.Side.SERVER,
                new TrafficSecrets(suite, clientSecret, 0, serverSecret, 0), keyUsageLimit);
        Tls13RecordLayer client = Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT,
                new TrafficSecrets(suite, serverSecret, 0, clientSecret, 0), keyUsageLimit);
        return new Tls13RecordLayer[] {server, client};
    }

    /** Everything a layer reported, in order. */
    static final class Recorder implements RecordLayer.Inbound {
        final ByteArrayOutputStream data = new ByteArrayOutputStream();
        final List<String> events = new ArrayList<>();

        @Override
        public void applicationData(ByteBuffer buffer, int offset, int length) {
            for (int i = 0; i < length; i++) {
                data.write(buffer.get(offset + i));
            }
            events.add("data " + length);
        }

        @Override
        public void keyUpdate(boolean updateRequested) {
            events.add("keyUpdate " + updateRequested);
        }

        @Override
        public void closeNotify() {
            events.add("close_notify");
        }

        @Override
        public void alert(int description, boolean fatal) {
            events.add("alert " + TlsAlertException.name(description) + (fatal ? " fatal" : ""));
        }
    }

    /**
     * Feeds {@code stream} to {@code layer} as socket reads would: each read puts at most
     * {@code readSize(i)} bytes (and no more than the room left) into one direct buffer, then opens.
     */
    static void feed(RecordLayer layer, ByteBuffer in, byte[] stream, IntUnaryOperator readSize, RecordLayer.Inbound to)
            throws TlsAlertException {
        int off = 0;
        for (int i = 0; off < stream.length; i++) {
            int n = Math.min(Math.min(Math.max(1, readSize.applyAsInt(i)), in.remaining()), stream.length - off);
            if (n == 0) {
                throw new AssertionError("the layer left no room to read into");
            }
            in.put(stream, off, n);
            off += n;
            layer.open(in, to);
        }
    }

    static void feed(RecordLayer layer, byte[] stream, RecordLayer.Inbound to) throws TlsAlertException {
        feed(layer, ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD), stream, i -> Integer.MAX_VALUE, to);
    }
}
