package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * Properties (jqwik): sealing through a staging array into a direct buffer
 * ({@link RecordLayer#sealStaged}: the front end's way into its direct seal room for what the
 * native sealing does not take, ChaCha20-Poly1305, TLS 1.2, a heap source) puts on the wire
 * exactly the bytes {@link RecordLayer#seal} puts into a heap buffer, the KeyUpdates a used-up key
 * owes included, and the peer opens them to what was sent.
 */
class SealStagedPropertiesTest {
    @Provide
    Arbitrary<List<Integer>> sizes() {
        return Arbitraries.integers().between(0, 70_000)
                .edgeCases(c -> c.add(1, RecordLayer.MAX_PLAINTEXT - 1, RecordLayer.MAX_PLAINTEXT, RecordLayer.MAX_PLAINTEXT + 1))
                .list().ofMinSize(1).ofMaxSize(8);
    }

    /** Room for the records at once: from one record (with a KeyUpdate before it) to many. */
    @Provide
    Arbitrary<Integer> rooms() {
        return Arbitraries.of(RecordLayer.MAX_RECORD + 64, 64 * 1024, 300 * 1024);
    }

    @Property(tries = 120)
    void tls13StagedSealingPutsTheSameBytesOnTheWire(@ForAll Tls13Suite suite, @ForAll("sizes") List<Integer> sizes,
            @ForAll @IntRange(min = 1, max = 6) int keyUsageLimit, @ForAll("rooms") int room, @ForAll long seed) throws Exception {
        Random r = new Random(seed);
        byte[] cs = new byte[suite.hashLength];
        byte[] ss = new byte[suite.hashLength];
        r.nextBytes(cs);
        r.nextBytes(ss);
        Tls13RecordLayer[] plain = Wire.pair(suite, cs, ss, keyUsageLimit);
        Tls13RecordLayer[] staged = Wire.pair(suite, cs, ss, keyUsageLimit);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        byte[] viaSeal = transmit(plain[0], sizes, seed, false, room, sent);
        byte[] viaStage = transmit(staged[0], sizes, seed, true, room, new ByteArrayOutputStream());
        assertArrayEquals(viaSeal, viaStage);
        assertArrayEquals(sent.toByteArray(), opened(staged[1], viaStage));
    }

    @Property(tries = 80)
    void tls12StagedSealingPutsTheSameBytesOnTheWire(@ForAll Tls12Suite suite, @ForAll("sizes") List<Integer> sizes,
            @ForAll("rooms") int room, @ForAll long seed) throws Exception {
        Tls12RecordLayer[] plain = Tls12RecordLayerTest.pair(suite, seed >>> 40, seed & 0xffff);
        Tls12RecordLayer[] staged = Tls12RecordLayerTest.pair(suite, seed >>> 40, seed & 0xffff);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        byte[] viaSeal = transmit(plain[1], sizes, seed, false, room, sent);
        byte[] viaStage = transmit(staged[1], sizes, seed, true, room, new ByteArrayOutputStream());
        assertArrayEquals(viaSeal, viaStage);
        assertArrayEquals(sent.toByteArray(), opened(staged[0], viaStage));
    }

    @Test
    void aStagingBufferTooSmallOrOfNoArrayIsRefused() {
        Tls13RecordLayer[] p = Wire.pair(Tls13Suite.TLS_AES_128_GCM_SHA256, new byte[32], new byte[32], 1000);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        assertThrows(IllegalArgumentException.class, () -> p[0].sealStaged(ByteBuffer.allocate(10), out, ByteBuffer.allocate(RecordLayer.STAGE - 1)));
        assertThrows(IllegalArgumentException.class, () -> p[0].sealStaged(ByteBuffer.allocate(10), out, ByteBuffer.allocateDirect(RecordLayer.STAGE)));
        assertThrows(IllegalArgumentException.class,
                () -> p[0].sealStaged(ByteBuffer.allocate(100), ByteBuffer.allocateDirect(50), ByteBuffer.allocate(RecordLayer.STAGE)));
    }

    /**
     * Seals each size's random bytes (from a heap source: a direct one would take the native
     * sealing's way), staged into a direct room or by seal into a heap one; returns the wire bytes.
     */
    private static byte[] transmit(RecordLayer sender, List<Integer> sizes, long seed, boolean staged, int room, ByteArrayOutputStream sent) {
        Random r = new Random(seed ^ 0x5eed);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        ByteBuffer out = staged ? ByteBuffer.allocateDirect(room) : ByteBuffer.allocate(room);
        ByteBuffer scratch = ByteBuffer.allocate(RecordLayer.STAGE);
        for (int size : sizes) {
            byte[] plain = new byte[size];
            r.nextBytes(plain);
            sent.writeBytes(plain);
            ByteBuffer src = ByteBuffer.wrap(plain);
            do {
                if (staged) {
                    sender.sealStaged(src, out, scratch);
                } else {
                    sender.seal(src, out);
                }
                wire.writeBytes(Wire.bytes(out));
                out.clear();
            } while (src.hasRemaining());
        }
        return wire.toByteArray();
    }

    /** What {@code receiver} opens of {@code wire} in a heap buffer (on the JCE provider). */
    static byte[] opened(RecordLayer receiver, byte[] wire) throws TlsAlertException {
        return opened(receiver, wire, ByteBuffer.allocate(Math.max(wire.length, RecordLayer.MAX_RECORD)));
    }

    /** What {@code receiver} opens of {@code wire} in {@code in} (a direct one: in place, natively). */
    static byte[] opened(RecordLayer receiver, byte[] wire, ByteBuffer in) throws TlsAlertException {
        Wire.Recorder got = new Wire.Recorder();
        in.put(wire);
        receiver.open(in, got);
        return got.data.toByteArray();
    }
}
