package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.Security;
import java.util.Arrays;
import java.util.Random;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Properties (jqwik), differential: the Amazon Corretto Crypto Provider's AES-GCM (AWS-LC), which
 * protects the records where it loads, against SunJCE's, which protects them elsewhere. The same
 * bytes for the same input, each opens the other's, both refuse any flipped bit; and so in the ways
 * the record layers call it: on heap buffers with the output over the input (TLS 1.3 and TLS 1.2
 * opening, TLS 1.3 sealing in place; TLS 1.2 sealing in place writes 8 bytes further on), with
 * update() before doFinal() (TLS 1.3 sealing: the inner content type and padding come last, from
 * a buffer of their own).
 */
class AesGcmProvidersPropertiesTest {
    private static final int TAG = RecordCipher.TAG;

    /** The two providers a record may be protected on. */
    enum On {
        ACCP, SUNJCE;

        Provider provider() {
            if (this == SUNJCE) {
                return Security.getProvider("SunJCE");
            }
            Providers.Accp a = Providers.Accp.load(() -> true);
            assertNotNull(a.provider(), "the Amazon Corretto Crypto Provider loads on linux x86_64: " + a.error());
            return a.provider();
        }

        On other() {
            return this == ACCP ? SUNJCE : ACCP;
        }
    }

    /** One record's inputs: a key of 16 or 32 bytes, a 12-byte nonce, additional data of 5 (TLS 1.3) or 13 (TLS 1.2) bytes, the plaintext. */
    record Input(byte[] key, byte[] nonce, byte[] aad, byte[] plain) {
        @Override
        public String toString() {
            return "key " + key.length + " aad " + aad.length + " plaintext " + plain.length;
        }
    }

    @Provide
    Arbitrary<Input> inputs() {
        // sizes around the blocks, TLS's 2^14 and its inner content type byte, up to past a whole TLS 1.2 record
        Arbitrary<Integer> lengths = Arbitraries.integers().between(0, 17_000)
                .edgeCases(c -> c.add(0, 1, 15, 16, 17, RecordLayer.MAX_PLAINTEXT, RecordLayer.MAX_PLAINTEXT + 1, 17_000));
        return Combinators.combine(Arbitraries.of(16, 32), Arbitraries.of(5, 13), lengths, Arbitraries.longs()).as((k, a, n, seed) -> {
            Random r = new Random(seed);
            byte[] key = new byte[k];
            byte[] nonce = new byte[12];
            byte[] aad = new byte[a];
            byte[] plain = new byte[n];
            r.nextBytes(key);
            r.nextBytes(nonce);
            r.nextBytes(aad);
            r.nextBytes(plain);
            return new Input(key, nonce, aad, plain);
        });
    }

    /** A cipher of {@code on} set up for one record, its additional data given, as RecordCipher.start and Tls12Cipher.start do. */
    private static Cipher cipher(On on, boolean encrypt, Input in, byte[] aad) throws GeneralSecurityException {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding", on.provider());
        c.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(in.key(), "AES"), new GCMParameterSpec(TAG * 8, in.nonce()));
        c.updateAAD(aad);
        return c;
    }

    private static byte[] seal(On on, Input in) throws GeneralSecurityException {
        return cipher(on, true, in, in.aad()).doFinal(in.plain());
    }

    private static byte[] open(On on, Input in, byte[] sealed, byte[] aad) throws GeneralSecurityException {
        return cipher(on, false, in, aad).doFinal(sealed);
    }

    @Property(tries = 300)
    void bothSealToTheSameBytesAndEachOpensTheOthers(@ForAll("inputs") Input in) throws Exception {
        byte[] accp = seal(On.ACCP, in);
        byte[] jdk = seal(On.SUNJCE, in);
        assertEquals(in.plain().length + TAG, accp.length);
        assertArrayEquals(jdk, accp, "ciphertext and tag");
        assertArrayEquals(in.plain(), open(On.SUNJCE, in, accp, in.aad()), "SunJCE opens ACCP's");
        assertArrayEquals(in.plain(), open(On.ACCP, in, jdk, in.aad()), "ACCP opens SunJCE's");
    }

    @Property(tries = 300)
    void bothRefuseOneFlippedBitInTheCiphertextTheTagOrTheAdditionalData(@ForAll("inputs") Input in, @ForAll long where)
            throws Exception {
        byte[] sealed = seal(On.SUNJCE, in);
        byte[] aad = in.aad().clone();
        // a bit anywhere in the additional data, the ciphertext or the tag
        long bits = 8L * (aad.length + sealed.length);
        long bit = Math.floorMod(where, bits);
        if (bit < 8L * aad.length) {
            aad[(int) (bit / 8)] ^= (byte) (1 << (bit % 8));
        } else {
            bit -= 8L * aad.length;
            sealed[(int) (bit / 8)] ^= (byte) (1 << (bit % 8));
        }
        for (On on : On.values()) {
            assertThrows(AEADBadTagException.class, () -> open(on, in, sealed, aad), on + " refuses it");
        }
    }

    /**
     * Sealed in a heap (or direct) buffer as the record layers seal: the plaintext at {@code at}, the
     * record written from {@code at + shift} (0: TLS 1.3 in place; 8: TLS 1.2 in place, its explicit
     * nonce goes in front), the first {@code split} bytes through update() and the rest through
     * doFinal(), from the same buffer or, as TLS 1.3's content type and padding, from one of their own.
     * Then opened in place with update() and doFinal() split at {@code openSplit}. Each step gives
     * SunJCE's one-shot bytes, and no byte outside the record's place is touched.
     */
    @Property(tries = 400)
    void inPlaceInTheRecordLayersBuffersBothGiveTheSameBytes(@ForAll("inputs") Input in, @ForAll On on, @ForAll boolean heap,
            @ForAll boolean tls12, @ForAll boolean tailApart, @ForAll long splits) throws Exception {
        int n = in.plain().length;
        Random r = new Random(splits);
        int shift = tls12 ? 8 : 0;
        // TLS 1.2 seals in one doFinal: an update() would write over plaintext not yet read
        int split = tls12 ? 0 : r.nextInt(n + 1);
        int at = 5 + r.nextInt(40);
        byte[] around = new byte[at + shift + n + TAG + r.nextInt(100)];
        r.nextBytes(around);
        byte[] expected = seal(On.SUNJCE, in);

        ByteBuffer buf = heap ? ByteBuffer.allocate(around.length) : ByteBuffer.allocateDirect(around.length);
        buf.put(0, around).put(at, in.plain());
        byte[] before = contents(buf);
        ByteBuffer src = buf.duplicate().position(at).limit(at + split);
        ByteBuffer dst = buf.duplicate().position(at + shift).limit(at + shift + n + TAG);
        ByteBuffer rest = tailApart ? ByteBuffer.wrap(in.plain(), split, n - split) : buf.duplicate().position(at + split).limit(at + n);
        Cipher seal = cipher(on, true, in, in.aad());
        int written = seal.update(src, dst);
        written += seal.doFinal(rest, dst);
        assertEquals(n + TAG, written);
        assertEquals(at + shift + n + TAG, dst.position());
        byte[] sealed = new byte[n + TAG];
        buf.get(at + shift, sealed);
        assertArrayEquals(expected, sealed, on + " sealing in place");
        assertUntouchedOutside(before, buf, at, at + shift + n + TAG, on + " sealing");

        // opened where it is, as both layers open
        int record = at + shift;
        int openSplit = r.nextInt(n + TAG + 1);
        before = contents(buf);
        ByteBuffer osrc = buf.duplicate().position(record).limit(record + openSplit);
        ByteBuffer odst = buf.duplicate().position(record).limit(record + n + TAG);
        Cipher open = cipher(on.other(), false, in, in.aad());
        int got = open.update(osrc, odst);
        got += open.doFinal(buf.duplicate().position(record + openSplit).limit(record + n + TAG), odst);
        assertEquals(n, got);
        byte[] plain = new byte[n];
        buf.get(record, plain);
        assertArrayEquals(in.plain(), plain, on.other() + " opening " + on + "'s in place");
        assertUntouchedOutside(before, buf, record, record + n + TAG, on.other() + " opening");
    }

    /**
     * A forged record opened in place in a buffer that holds more behind it (the next records of the
     * same read, or, for openAvailable, whatever the caller keeps there): refused, and nothing
     * outside the record's bytes changes.
     */
    @Property(tries = 300)
    void aRefusedRecordOpenedInPlaceChangesNothingOutsideIt(@ForAll("inputs") Input in, @ForAll On on, @ForAll boolean heap,
            @ForAll long seed) throws Exception {
        Random r = new Random(seed);
        byte[] sealed = seal(On.SUNJCE, in);
        sealed[r.nextInt(sealed.length)] ^= (byte) (1 << r.nextInt(8));
        int at = 5 + r.nextInt(40);
        byte[] around = new byte[at + sealed.length + r.nextInt(2 * sealed.length + 100)];
        r.nextBytes(around);
        ByteBuffer buf = heap ? ByteBuffer.allocate(around.length) : ByteBuffer.allocateDirect(around.length);
        buf.put(0, around).put(at, sealed);
        byte[] before = contents(buf);
        ByteBuffer src = buf.duplicate().position(at).limit(at + sealed.length);
        ByteBuffer dst = buf.duplicate().position(at).limit(at + sealed.length);
        Cipher open = cipher(on, false, in, in.aad());
        assertThrows(AEADBadTagException.class, () -> open.doFinal(src, dst));
        assertUntouchedOutside(before, buf, at, at + sealed.length, on + " refusing");
    }

    private static byte[] contents(ByteBuffer buf) {
        byte[] b = new byte[buf.capacity()];
        buf.get(0, b);
        return b;
    }

    private static void assertUntouchedOutside(byte[] before, ByteBuffer buf, int from, int to, String what) {
        byte[] now = contents(buf);
        assertArrayEquals(Arrays.copyOfRange(before, 0, from), Arrays.copyOfRange(now, 0, from), what + ": the bytes before");
        assertArrayEquals(Arrays.copyOfRange(before, to, before.length), Arrays.copyOfRange(now, to, now.length), what + ": the bytes after");
    }
}
