package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native sealing (src/main/c/nativegcm.c through {@link NativeGcm}): it loads here (the build
 * has gcc and libssl-dev: tools/test installs them), its records are byte for byte the JCE
 * provider's, KeyUpdates included, and the peer opens them; it gives up its context when quiet;
 * it refuses, without writing, what lies outside the buffers; copies killed JVMs left are swept.
 */
class NativeGcmTest {
    @BeforeAll
    @BeforeContainer
    static void load() {
        NativeCopies.whileCopying(() -> true, NativeGcm::load);
    }

    @Test
    void itLoadsHereAndSaysOnWhat() {
        assertTrue(NativeGcm.ready(), NativeGcm.describe() + " (the build needs gcc and libssl-dev for it: tools/test installs them)");
        assertTrue(NativeGcm.chachaReady(), NativeGcm.describe());
        assertTrue(NativeGcm.describe().matches(
                "TLS 1\\.3 AES-GCM and ChaCha20-Poly1305 records sealed and opened on OpenSSL \\d[^,]*, in direct buffers"),
                NativeGcm.describe());
        assertTrue(Providers.sealsDirect());
    }

    @Provide
    Arbitrary<List<Integer>> sizes() {
        return Arbitraries.integers().between(0, 70_000)
                .edgeCases(c -> c.add(1, RecordLayer.MAX_PLAINTEXT, RecordLayer.MAX_PLAINTEXT + 1)).list().ofMinSize(1).ofMaxSize(8);
    }

    @Property(tries = 100)
    void betweenDirectBuffersTheRecordsAreTheJceProvidersByteForByte(@ForAll("suites") Tls13Suite suite, @ForAll("sizes") List<Integer> sizes,
            @ForAll @IntRange(min = 1, max = 6) int keyUsageLimit, @ForAll long seed) throws Exception {
        Random r = new Random(seed);
        byte[] cs = new byte[suite.hashLength];
        byte[] ss = new byte[suite.hashLength];
        r.nextBytes(cs);
        r.nextBytes(ss);
        long first = r.nextBoolean() ? 0 : r.nextLong() >>> 1; // high sequence numbers too: every byte of the nonce's XOR
        Tls13RecordLayer[] jce = pairAt(suite, cs, ss, keyUsageLimit, first);
        Tls13RecordLayer[] direct = pairAt(suite, cs, ss, keyUsageLimit, first);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        long before = NativeGcm.SEALED.sum();
        byte[] viaJce = transmit(jce[0], sizes, seed, false, sent);
        long records = sizes.stream().mapToLong(n -> (n + RecordLayer.MAX_PLAINTEXT - 1) / RecordLayer.MAX_PLAINTEXT).sum();
        assertEquals(before, NativeGcm.SEALED.sum(), "heap buffers stay on the JCE provider");
        byte[] viaNative = transmit(direct[0], sizes, seed, true, new ByteArrayOutputStream());
        assertTrue(NativeGcm.SEALED.sum() - before >= records, "every application-data record sealed natively");
        assertArrayEquals(viaJce, viaNative);
        assertArrayEquals(sent.toByteArray(), SealStagedPropertiesTest.opened(jce[1], viaNative), "opened on the JCE provider");
        long opened = NativeGcm.OPENED.sum();
        assertArrayEquals(sent.toByteArray(), openedDirect(direct[1], viaNative), "opened in place natively");
        assertTrue(NativeGcm.OPENED.sum() - opened >= records, "every application-data record opened natively");
    }

    /** What {@code receiver} opens of {@code wire} in a direct buffer (in place, natively). */
    static byte[] openedDirect(RecordLayer receiver, byte[] wire) throws TlsAlertException {
        return SealStagedPropertiesTest.opened(receiver, wire, ByteBuffer.allocateDirect(Math.max(wire.length, RecordLayer.MAX_RECORD)));
    }

    @Test
    void aForgedRecordOpenedNativelyIsRefusedWithBadRecordMacAndWhatItDecryptedIsWiped() throws Exception {
        // the header's version bytes (checked by nothing but the additional data), the ciphertext, the tag; both AEADs
        for (int signed : new int[] {1, 2, 5, 30, 5 + 100 + 1 + 15, -1, -2, -5, -30, -(5 + 100 + 1 + 15)}) {
            Tls13Suite suite = signed > 0 ? Tls13Suite.TLS_AES_128_GCM_SHA256 : Tls13Suite.TLS_CHACHA20_POLY1305_SHA256;
            int flip = Math.abs(signed);
            Tls13RecordLayer[] p = Wire.pair(suite, new byte[32], new byte[32], 1000);
            ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
            byte[] plain = new byte[100];
            java.util.Arrays.fill(plain, (byte) 0x5a);
            p[0].seal(ByteBuffer.wrap(plain), out);
            byte[] wire = Wire.bytes(out);
            wire[flip] ^= 1;
            Wire.Recorder got = new Wire.Recorder();
            ByteBuffer in = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
            in.put(wire);
            long refused = NativeGcm.REFUSED.sum();
            TlsAlertException e = assertThrows(TlsAlertException.class, () -> p[1].open(in, got), "byte " + flip);
            assertEquals(TlsAlertException.BAD_RECORD_MAC, e.description(), "byte " + flip);
            assertEquals(refused + 1, NativeGcm.REFUSED.sum(), "refused by the native open (byte " + flip + ")");
            for (int k = 5; k < 5 + 100; k++) {
                assertEquals(0, in.get(k), "what it decrypted is wiped, not left as plaintext (byte " + flip + ")");
            }
            assertEquals(0, got.data.size());
        }
    }

    @Test
    void theLastSequenceNumberOpensOneRecordAndThenNoMore() throws Exception {
        for (boolean direct : new boolean[] {true, false}) {
            Tls13RecordLayer[] p = pairAt(Tls13Suite.TLS_AES_128_GCM_SHA256, new byte[32], new byte[32], Long.MAX_VALUE, -1L);
            ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
            p[0].seal(ByteBuffer.wrap(new byte[] {1}), out);
            byte[] first = Wire.bytes(out);
            Wire.Recorder got = new Wire.Recorder();
            ByteBuffer in = direct ? ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD) : ByteBuffer.allocate(RecordLayer.MAX_RECORD);
            in.put(first);
            p[1].open(in, got);
            assertEquals(1, got.data.size());
            in.clear();
            in.put(first); // whatever comes next: the sequence number would wrap, so nothing more is opened
            assertThrows(TlsAlertException.class, () -> p[1].open(in, got), direct ? "native" : "JCE");
            assertEquals(1, got.data.size());
        }
    }

    /** Wire.pair, both directions starting at sequence number {@code first}. */
    private static Tls13RecordLayer[] pairAt(Tls13Suite suite, byte[] cs, byte[] ss, long keyUsageLimit, long first) {
        return new Tls13RecordLayer[] {
            Tls13RecordLayer.of(Tls13RecordLayer.Side.SERVER, new TrafficSecrets(suite, cs, first, ss, first), keyUsageLimit),
            Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT, new TrafficSecrets(suite, ss, first, cs, first), keyUsageLimit),
        };
    }

    @Test
    void theLastSequenceNumberIsUsedOnceAndThenNoMoreRecordGoesOut() {
        for (boolean direct : new boolean[] {true, false}) {
            Tls13RecordLayer[] p = pairAt(Tls13Suite.TLS_AES_128_GCM_SHA256, new byte[32], new byte[32], Long.MAX_VALUE, -1L);
            ByteBuffer out = direct ? ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD) : ByteBuffer.allocate(RecordLayer.MAX_RECORD);
            long before = NativeGcm.SEALED.sum();
            p[0].seal(direct ? Wire.direct(new byte[] {1}) : ByteBuffer.wrap(new byte[] {1}), out);
            assertEquals(direct ? 1 : 0, NativeGcm.SEALED.sum() - before, "the way the record went");
            int at = out.position();
            assertThrows(IllegalStateException.class, () -> p[0].seal(direct ? Wire.direct(new byte[] {2}) : ByteBuffer.wrap(new byte[] {2}), out),
                    "the sequence number would wrap (" + (direct ? "native" : "JCE") + ")");
            assertEquals(at, out.position(), "nothing more sealed");
        }
    }

    @Provide
    Arbitrary<Tls13Suite> suites() {
        return Arbitraries.of(Tls13Suite.values()); // AES-GCM both sizes and ChaCha20-Poly1305
    }

    /** Seals each size's random bytes between direct buffers, or between heap ones; a KeyUpdate asked of the peer now and then. */
    private static byte[] transmit(RecordLayer sender, List<Integer> sizes, long seed, boolean direct, ByteArrayOutputStream sent) {
        Random r = new Random(seed ^ 0xd1ec7);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        ByteBuffer out = direct ? ByteBuffer.allocateDirect(200 * 1024) : ByteBuffer.allocate(200 * 1024);
        for (int size : sizes) {
            if (r.nextInt(3) == 0) {
                sender.sealKeyUpdate(r.nextBoolean(), out);
            }
            byte[] plain = new byte[size];
            r.nextBytes(plain);
            sent.writeBytes(plain);
            ByteBuffer src = direct ? Wire.direct(plain) : ByteBuffer.wrap(plain);
            do {
                sender.seal(src, out);
                wire.writeBytes(Wire.bytes(out));
                out.clear();
            } while (src.hasRemaining());
        }
        return wire.toByteArray();
    }

    @Test
    void aQuietSessionGivesUpItsNativeContextAndKeysAnotherAtItsNextRecord() throws Exception {
        Tls13RecordLayer[] p = Wire.pair(Tls13Suite.TLS_AES_256_GCM_SHA384, new byte[48], new byte[48], 1000);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD * 2);
        p[0].seal(Wire.direct(new byte[] {1, 2, 3}), out);
        assertEquals(1, p[0].ciphersHeld(), "the sending direction's context");
        assertTrue(p[0].quiet());
        assertEquals(0, p[0].ciphersHeld());
        assertFalse(p[0].quiet(), "nothing more to give up");
        p[0].seal(Wire.direct(new byte[] {4, 5}), out);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, SealStagedPropertiesTest.opened(p[1], Wire.bytes(out)));
    }

    @Test
    void whatLiesOutsideTheBuffersIsRefusedAndNothingIsWritten() {
        byte[] key = new byte[16];
        byte[] nonce = new byte[12];
        ByteBuffer src = ByteBuffer.allocateDirect(100);
        ByteBuffer dst = ByteBuffer.allocateDirect(200);
        ByteBuffer big = ByteBuffer.allocateDirect(RecordLayer.MAX_PLAINTEXT + 2);
        ByteBuffer bigOut = ByteBuffer.allocateDirect(RecordLayer.MAX_PLAINTEXT + 100);
        NativeGcm.Context c = new NativeGcm.Context(true, false);
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, src, 50, 51, 23, dst, 5), "past src's end");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, src, -1, 10, 23, dst, 5), "before src's start");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, src, 0, 100, 23, dst, 84), "past dst's end (100 + 17 from 84)");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, big, 0, RecordLayer.MAX_PLAINTEXT + 1, 23, bigOut, 5), "over 2^14");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, dst, 0, 50, 23, dst, 20), "overlapping");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, new byte[8], src, 0, 10, 23, dst, 5), "a short nonce");
        assertThrows(GeneralSecurityException.class, () -> c.seal(key, nonce, src, 0, 10, 23, dst, 4), "no room for its header before it");
        for (int i = 0; i < dst.capacity(); i++) {
            assertEquals(0, dst.get(i), "nothing written at " + i);
        }
        assertTrue(c.release(), "keyed before the checks refused");
        NativeGcm.Context o = new NativeGcm.Context(false, false);
        ByteBuffer rec = ByteBuffer.allocateDirect(100);
        assertThrows(GeneralSecurityException.class, () -> o.open(key, nonce, rec, 4, 20), "its header before the buffer");
        assertThrows(GeneralSecurityException.class, () -> o.open(key, nonce, rec, 5, 15), "no room for a tag");
        assertThrows(GeneralSecurityException.class, () -> o.open(key, nonce, rec, 50, 51), "past its end");
        assertThrows(GeneralSecurityException.class, () -> o.open(key, new byte[8], rec, 5, 20), "a short nonce");
        assertTrue(o.release());
        NativeGcm.Context chacha = new NativeGcm.Context(true, true);
        assertThrows(GeneralSecurityException.class, () -> chacha.seal(key, nonce, src, 0, 10, 23, dst, 5), "ChaCha20 with a 16-byte key");
        assertFalse(chacha.release(), "no context made for it");
    }

    @Test
    void copiesKilledJvmsLeftAreSweptWhenOldOnlyTheirsAndOnlyFiles(@TempDir Path dir) throws Exception {
        FileTime old = FileTime.from(Instant.now().minusSeconds(120));
        Path stale = Files.writeString(dir.resolve(NativeGcm.PREFIX + "123.so"), "x");
        Files.setLastModifiedTime(stale, old);
        Path young = Files.writeString(dir.resolve(NativeGcm.PREFIX + "456.so"), "x");
        Path other = Files.writeString(dir.resolve("something-else.so"), "x");
        Files.setLastModifiedTime(other, old);
        Path aDirectory = Files.createDirectory(dir.resolve(NativeGcm.PREFIX + "dir"));
        Files.setLastModifiedTime(aDirectory, old);
        Path link = Files.createSymbolicLink(dir.resolve(NativeGcm.PREFIX + "link"), other);
        assertEquals(1, NativeGcm.sweep(dir, Instant.now().minus(NativeCopies.STALE)));
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(young) && Files.exists(other) && Files.isDirectory(aDirectory) && Files.isSymbolicLink(link));
        assertEquals(0, NativeGcm.sweep(dir.resolve("absent"), Instant.now()), "no such directory: nothing to sweep");
    }
}
