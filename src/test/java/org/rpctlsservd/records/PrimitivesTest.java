package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.rpctlsservd.records.Wire.hex;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.crypto.AEADBadTagException;
import org.bouncycastle.tls.crypto.CryptoHashAlgorithm;
import org.bouncycastle.tls.crypto.TlsCryptoUtils;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.junit.jupiter.api.Test;

/**
 * The primitives under the records, through the record cipher's own path (nonce = iv XOR 0, the
 * additional data, direct buffers, in place): the GCM specification's test cases (McGrew and
 * Viega, also NIST's CAVP), RFC 8439 section 2.8.2's ChaCha20-Poly1305 AEAD vector, and
 * HKDF-Expand-Label against Bouncy Castle's.
 */
class PrimitivesTest {
    private static final String GCM_P = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    private static final String GCM_A = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

    private static void check(Tls13Suite suite, String key, String iv, String aad, byte[] plain, String cipherAndTag)
            throws Exception {
        byte[] expected = hex(cipherAndTag);
        // sealed in place: plaintext and ciphertext in the same direct buffer
        ByteBuffer buf = ByteBuffer.allocateDirect(plain.length + RecordCipher.TAG);
        buf.put(plain).flip();
        ByteBuffer dst = buf.duplicate().limit(buf.capacity());
        RecordCipher seal = new RecordCipher(suite, hex(key), hex(iv), true);
        seal.start(hex(aad));
        seal.update(buf, dst);
        seal.finish(ByteBuffer.allocate(0), dst);
        assertEquals(expected.length, dst.position());
        byte[] got = new byte[expected.length];
        buf.limit(buf.capacity()).get(0, got);
        assertArrayEquals(expected, got, suite + " seals to the published bytes");

        RecordCipher open = new RecordCipher(suite, hex(key), hex(iv), false);
        ByteBuffer src = buf.duplicate().position(0).limit(expected.length);
        ByteBuffer out = buf.duplicate().position(0).limit(expected.length);
        open.start(hex(aad));
        assertEquals(plain.length, open.finish(src, out));
        byte[] back = new byte[plain.length];
        buf.get(0, back);
        assertArrayEquals(plain, back, suite + " opens to the plaintext");

        // a flipped bit anywhere in the ciphertext or tag is refused
        ByteBuffer forged = Wire.direct(expected);
        forged.put(expected.length - 1, (byte) (expected[expected.length - 1] ^ 1));
        RecordCipher refuse = new RecordCipher(suite, hex(key), hex(iv), false);
        refuse.start(hex(aad));
        assertThrows(AEADBadTagException.class,
                () -> refuse.finish(forged, ByteBuffer.allocateDirect(expected.length)));
    }

    @Test
    void gcmTestCase2() throws Exception {
        check(Tls13Suite.TLS_AES_128_GCM_SHA256, "00000000000000000000000000000000", "000000000000000000000000", "",
                new byte[16], "0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf");
    }

    @Test
    void gcmTestCase4Aes128WithAdditionalData() throws Exception {
        check(Tls13Suite.TLS_AES_128_GCM_SHA256, "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", GCM_A,
                hex(GCM_P), "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                        + "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091" + "5bc94fbc3221a5db94fae95ae7121a47");
    }

    @Test
    void gcmTestCase16Aes256WithAdditionalData() throws Exception {
        check(Tls13Suite.TLS_AES_256_GCM_SHA384, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                "cafebabefacedbaddecaf888", GCM_A, hex(GCM_P),
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                        + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" + "76fc6ece0f4e1768cddf8853bb2d551b");
    }

    @Test
    void chaCha20Poly1305Rfc8439Section282() throws Exception {
        byte[] plain = ("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
                + "sunscreen would be it.").getBytes(StandardCharsets.US_ASCII);
        check(Tls13Suite.TLS_CHACHA20_POLY1305_SHA256, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
                "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", plain,
                "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                        + "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                        + "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                        + "3ff4def08e4b7a9de576d26586cec64b6116" + "1ae10b594f09e26a7e902ecbd0600691");
    }

    @Test
    void nonceIsTheIvXorTheSequenceNumber() throws Exception {
        // RFC 8448's server data record is its second (sequence 1): opening it proves the XOR
        RecordCipher c = new RecordCipher(Tls13Suite.TLS_AES_128_GCM_SHA256, Rfc8448Test.SERVER_AP_SECRET, 1, false);
        byte[] rec = Rfc8448Test.SERVER_DATA;
        ByteBuffer body = Wire.direct(rec).position(RecordLayer.HEADER);
        c.start(java.util.Arrays.copyOf(rec, RecordLayer.HEADER));
        assertEquals(51, c.finish(body, ByteBuffer.allocateDirect(rec.length)));
        assertEquals(2, c.sequence());
    }

    @Test
    void hkdfExpandLabelAgreesWithBouncyCastles() throws Exception {
        BcTlsCrypto bc = new BcTlsCrypto();
        for (Tls13Suite suite : Tls13Suite.values()) {
            byte[] secret = new byte[suite.hashLength];
            for (int i = 0; i < secret.length; i++) {
                secret[i] = (byte) (31 * i + suite.code);
            }
            int hash = suite.hashLength == 48 ? CryptoHashAlgorithm.sha384 : CryptoHashAlgorithm.sha256;
            for (String label : new String[] {"traffic upd", "key", "iv"}) {
                int length = label.equals("key") ? suite.keyLength : label.equals("iv") ? 12 : suite.hashLength;
                byte[] theirs = TlsCryptoUtils.hkdfExpandLabel(bc.createSecret(secret.clone()), hash, label, new byte[0], length).extract();
                assertArrayEquals(theirs, Hkdf.expandLabel(suite, secret, label, new byte[0], length), suite + " " + label);
            }
            // past one hash block, where HKDF-Expand takes a second HMAC
            byte[] theirs = TlsCryptoUtils.hkdfExpandLabel(bc.createSecret(secret.clone()), hash, "long", new byte[] {1, 2}, 100).extract();
            assertArrayEquals(theirs, Hkdf.expandLabel(suite, secret, "long", new byte[] {1, 2}, 100));
        }
    }
}
