package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Property (jqwik): whatever the record sizes and wherever socket reads split the stream, a TLS 1.2 receiver gets the same bytes back. */
class Tls12RecordLayerPropertiesTest {
    @Provide
    Arbitrary<List<Integer>> sizes() {
        return Arbitraries.integers().between(0, 40_000).edgeCases(c -> c.add(1, RecordLayer.MAX_PLAINTEXT, RecordLayer.MAX_PLAINTEXT + 1))
                .list().ofMinSize(1).ofMaxSize(10);
    }

    @Provide
    Arbitrary<List<Integer>> reads() {
        return Arbitraries.integers().between(1, 70_000).edgeCases(c -> c.add(1, 5, 6, 13)).list().ofMinSize(1).ofMaxSize(16);
    }

    @Provide
    Arbitrary<Integer> readBuffers() {
        return Arbitraries.of(RecordLayer.MAX_RECORD, RecordLayer.MAX_RECORD + 1000, 64 * 1024, 4 * RecordLayer.MAX_RECORD);
    }

    @Property(tries = 150)
    void randomSplitPointsAndRecordSizesGiveBackTheSameBytes(@ForAll Tls12Suite suite, @ForAll("sizes") List<Integer> sizes,
            @ForAll("reads") List<Integer> reads, @ForAll("readBuffers") int readBuffer, @ForAll boolean heap,
            @ForAll boolean inPlace, @ForAll long seed) throws Exception {
        Tls12RecordLayer[] p = Tls12RecordLayerTest.pair(suite, seed >>> 40, seed & 0xffff);
        java.util.Random random = new java.util.Random(seed);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        ByteBuffer out = heap ? ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD) : ByteBuffer.allocateDirect(4 * RecordLayer.MAX_RECORD);
        for (int size : sizes) {
            byte[] plain = new byte[size];
            random.nextBytes(plain);
            sent.writeBytes(plain);
            if (inPlace) {
                for (int off = 0; off < size; off += RecordLayer.MAX_PLAINTEXT) {
                    int n = Math.min(RecordLayer.MAX_PLAINTEXT, size - off);
                    out.put(out.position() + RecordLayer.HEADER, plain, off, n);
                    p[1].sealInPlace(out, n);
                    wire.writeBytes(Wire.bytes(out));
                    out.clear();
                }
            } else {
                ByteBuffer src = heap ? ByteBuffer.wrap(plain) : Wire.direct(plain);
                do {
                    p[1].seal(src, out);
                    wire.writeBytes(Wire.bytes(out));
                    out.clear();
                } while (src.hasRemaining());
            }
        }
        Wire.Recorder got = new Wire.Recorder();
        ByteBuffer in = heap ? ByteBuffer.allocate(readBuffer) : ByteBuffer.allocateDirect(readBuffer);
        Wire.feed(p[0], in, wire.toByteArray(), i -> reads.get(i % reads.size()), got);
        assertArrayEquals(sent.toByteArray(), got.data.toByteArray());
    }
}
