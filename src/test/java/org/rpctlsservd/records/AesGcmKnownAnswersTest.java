package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.rpctlsservd.records.Wire.hex;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GCM specification's test cases with 96-bit nonces (McGrew and Viega, 1-4 and 13-16; also
 * NIST's CAVP) on each provider AES-GCM records may be protected on, the Amazon Corretto Crypto
 * Provider and SunJCE, named, not the one Providers chooses (PrimitivesTest runs them through
 * RecordCipher on that one). Each as the record ciphers call it: additional data as a byte array,
 * then update() and doFinal() in place in a heap or direct buffer, opened in place, and a flipped
 * bit in the tag refused.
 */
class AesGcmKnownAnswersTest {
    private static final String K = "feffe9928665731c6d6a8f9467308308";
    private static final String IV = "cafebabefacedbaddecaf888";
    private static final String P = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    /** Test cases 4 and 16: the plaintext less its last 4 bytes, with additional data. */
    private static final String P60 = P.substring(0, 120);
    private static final String A = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    private static final String Z16 = "00000000000000000000000000000000";
    private static final String Z12 = "000000000000000000000000";

    record Vector(String name, String key, String iv, String aad, String plain, String cipher, String tag) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final List<Vector> VECTORS = List.of(
            new Vector("test case 1", Z16, Z12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
            new Vector("test case 2", Z16, Z12, "", Z16, "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"),
            new Vector("test case 3", K, IV, "", P,
                    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                            + "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
                    "4d5c2af327cd64a62cf35abd2ba6fab4"),
            new Vector("test case 4", K, IV, A, P60,
                    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                            + "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                    "5bc94fbc3221a5db94fae95ae7121a47"),
            new Vector("test case 13", Z16 + Z16, Z12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
            new Vector("test case 14", Z16 + Z16, Z12, "", Z16, "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"),
            new Vector("test case 15", K + K, IV, "", P,
                    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                            + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                    "b094dac5d93471bdec1a502270e3cc6c"),
            new Vector("test case 16", K + K, IV, A, P60,
                    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                            + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                    "76fc6ece0f4e1768cddf8853bb2d551b"));

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (AesGcmProvidersPropertiesTest.On on : AesGcmProvidersPropertiesTest.On.values()) {
            for (Vector v : VECTORS) {
                for (boolean heap : new boolean[] {true, false}) {
                    out.add(Arguments.of(on, v, heap ? "heap" : "direct"));
                }
            }
        }
        return out;
    }

    private static Cipher cipher(AesGcmProvidersPropertiesTest.On on, int mode, Vector v) throws Exception {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding", on.provider());
        c.init(mode, new SecretKeySpec(hex(v.key()), "AES"), new GCMParameterSpec(128, hex(v.iv())));
        c.updateAAD(hex(v.aad()));
        return c;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void sealsToThePublishedBytesAndOpensThemInPlace(AesGcmProvidersPropertiesTest.On on, Vector v, String kind) throws Exception {
        byte[] plain = hex(v.plain());
        byte[] expected = hex(v.cipher() + v.tag());
        ByteBuffer buf = kind.equals("heap") ? ByteBuffer.allocate(expected.length) : ByteBuffer.allocateDirect(expected.length);
        buf.put(0, plain);

        // sealed in place: update() with the plaintext, doFinal() with nothing (as TLS 1.3 seals with an empty tail)
        Cipher seal = cipher(on, Cipher.ENCRYPT_MODE, v);
        ByteBuffer dst = buf.duplicate().clear();
        int n = seal.update(buf.duplicate().limit(plain.length), dst);
        n += seal.doFinal(ByteBuffer.allocate(0), dst);
        assertEquals(expected.length, n);
        byte[] got = new byte[expected.length];
        buf.get(0, got);
        assertArrayEquals(expected, got, on + " seals to the published bytes");

        // opened in place, in one doFinal, as both layers open
        Cipher open = cipher(on, Cipher.DECRYPT_MODE, v);
        assertEquals(plain.length, open.doFinal(buf.duplicate().clear(), buf.duplicate().clear()));
        byte[] back = new byte[plain.length];
        buf.get(0, back);
        assertArrayEquals(plain, back, on + " opens to the plaintext");

        // the published bytes with the tag's last bit flipped
        byte[] forged = expected.clone();
        forged[forged.length - 1] ^= 1;
        Cipher refuse = cipher(on, Cipher.DECRYPT_MODE, v);
        assertThrows(AEADBadTagException.class, () -> refuse.doFinal(forged));
    }
}
