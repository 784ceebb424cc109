package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Properties (jqwik): whatever the record sizes, padding and KeyUpdates a sender chooses, and
 * wherever the socket reads split the byte stream, the receiver gets the same bytes back, and
 * KeyUpdates at random points (asked for or not) keep both sides' keys in step.
 */
class RecordLayerPropertiesTest {
    /** One send: first a KeyUpdate (0 none, 1 update_not_requested, 2 update_requested), then size bytes in records padded by padding. */
    record Send(int keyUpdate, int size, int padding) {
    }

    @Provide
    Arbitrary<List<Send>> sends() {
        Arbitrary<Send> send = Combinators.combine(
                Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, 40_000).edgeCases(c -> c.add(1, RecordLayer.MAX_PLAINTEXT, RecordLayer.MAX_PLAINTEXT + 1)),
                Arbitraries.integers().between(0, 300)).as(Send::new);
        return send.list().ofMinSize(1).ofMaxSize(10);
    }

    @Provide
    Arbitrary<List<Integer>> reads() {
        return Arbitraries.integers().between(1, 70_000).edgeCases(c -> c.add(1, 5, 6)).list().ofMinSize(1).ofMaxSize(16);
    }

    @Provide
    Arbitrary<Integer> readBuffers() {
        return Arbitraries.of(RecordLayer.MAX_RECORD, RecordLayer.MAX_RECORD + 1000, 64 * 1024, 4 * RecordLayer.MAX_RECORD);
    }

    private static int counter;

    /** Seals the sends, returning the wire bytes; appends the plaintext sent to {@code sent}. */
    private static byte[] transmit(RecordLayer sender, List<Send> sends, ByteArrayOutputStream sent) {
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        ByteBuffer out = ByteBuffer.allocateDirect(4 * RecordLayer.MAX_RECORD);
        for (Send s : sends) {
            if (s.keyUpdate() > 0) {
                sender.sealKeyUpdate(s.keyUpdate() == 2, out);
            }
            byte[] plain = new byte[s.size()];
            for (int i = 0; i < plain.length; i++) {
                plain[i] = (byte) (counter++ * 31 + 7);
            }
            sent.writeBytes(plain);
            ByteBuffer src = Wire.direct(plain);
            do {
                sender.seal(src, out, s.padding());
                wire.writeBytes(Wire.bytes(out));
                out.clear();
            } while (src.hasRemaining());
        }
        sender.sealPending(out); // a KeyUpdate still owed goes now, so the other side sees it
        wire.writeBytes(Wire.bytes(out));
        return wire.toByteArray();
    }

    private static byte[] secret(Tls13Suite suite, long seed) {
        byte[] s = new byte[suite.hashLength];
        new java.util.Random(seed).nextBytes(s);
        return s;
    }

    @Property(tries = 150)
    void randomSplitPointsAndRecordSizesGiveBackTheSameBytes(@ForAll Tls13Suite suite, @ForAll("sends") List<Send> sends,
            @ForAll("reads") List<Integer> reads, @ForAll("readBuffers") int readBuffer, @ForAll boolean heap, @ForAll long seed)
            throws Exception {
        Tls13RecordLayer[] p = Wire.pair(suite, secret(suite, seed), secret(suite, ~seed), Tls13RecordLayer.KEY_USAGE_LIMIT);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        byte[] wire = transmit(p[1], sends, sent);
        Wire.Recorder got = new Wire.Recorder();
        // heap buffers too: the JDK's ciphers take another path for them
        ByteBuffer in = heap ? ByteBuffer.allocate(readBuffer) : ByteBuffer.allocateDirect(readBuffer);
        Wire.feed(p[0], in, wire, i -> reads.get(i % reads.size()), got);
        assertArrayEquals(sent.toByteArray(), got.data.toByteArray());
        assertEquals(sends.stream().filter(s -> s.keyUpdate() > 0).count(),
                got.events.stream().filter(e -> e.startsWith("keyUpdate")).count());
    }

    @Property(tries = 100)
    void keyUpdatesAtRandomPointsKeepBothSidesInStep(@ForAll Tls13Suite suite, @ForAll("sends") List<Send> fromClient,
            @ForAll("sends") List<Send> fromServer, @ForAll("reads") List<Integer> reads, @ForAll long seed) throws Exception {
        Tls13RecordLayer[] p = Wire.pair(suite, secret(suite, seed), secret(suite, ~seed), Tls13RecordLayer.KEY_USAGE_LIMIT);
        Tls13RecordLayer server = p[0];
        Tls13RecordLayer client = p[1];
        ByteBuffer atServer = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        ByteBuffer atClient = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        ByteArrayOutputStream clientSent = new ByteArrayOutputStream();
        ByteArrayOutputStream serverSent = new ByteArrayOutputStream();
        Wire.Recorder serverGot = new Wire.Recorder();
        Wire.Recorder clientGot = new Wire.Recorder();
        // turns: the client's sends one by one, the server answering each with one of its own
        for (int i = 0; i < Math.max(fromClient.size(), fromServer.size()); i++) {
            if (i < fromClient.size()) {
                Wire.feed(server, atServer, transmit(client, List.of(fromClient.get(i)), clientSent), j -> reads.get(j % reads.size()), serverGot);
            }
            if (i < fromServer.size()) {
                Wire.feed(client, atClient, transmit(server, List.of(fromServer.get(i)), serverSent), j -> reads.get(j % reads.size()), clientGot);
            }
        }
        // a last exchange carries any KeyUpdate still owed
        Wire.feed(server, atServer, transmit(client, List.of(new Send(0, 1, 0)), clientSent), j -> 7, serverGot);
        Wire.feed(client, atClient, transmit(server, List.of(new Send(0, 1, 0)), serverSent), j -> 7, clientGot);
        assertArrayEquals(clientSent.toByteArray(), serverGot.data.toByteArray());
        assertArrayEquals(serverSent.toByteArray(), clientGot.data.toByteArray());
        assertArrayEquals(client.writeCipher().key(), server.readCipher().key());
        assertArrayEquals(server.writeCipher().key(), client.readCipher().key());
        assertEquals(client.writeCipher().sequence(), server.readCipher().sequence());
        assertEquals(server.writeCipher().sequence(), client.readCipher().sequence());
        assertEquals(false, server.keyUpdateOwed() || client.keyUpdateOwed());
    }
}
