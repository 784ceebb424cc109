package org.rpctlsservd.records;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.spec.AlgorithmParameterSpec;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * One direction's TLS 1.2 AEAD record protection on the JDK's cipher: the per-record nonce (RFC
 * 5288: salt || the record's explicit nonce; RFC 7905: iv XOR the padded sequence number) and the
 * additional data of RFC 5246 section 6.2.3.3 (seq_num || type || version || plaintext length).
 * Separate from RecordCipher, which is TLS 1.3's (its nonce, its header as additional data, KeyUpdate).
 */
final class Tls12Cipher {
    static final int AAD = 13;

    private final Tls12Suite suite;
    private final CipherSlot cipher;
    private final int mode;
    private final SecretKeySpec key;
    private final byte[] iv;
    private final byte[] nonce = new byte[12];
    private final byte[] aad = new byte[AAD];
    private long seq;
    /** The sequence number wrapped: RFC 5246 section 6.1 forbids using it again (and TLS 1.2 has no rekeying). */
    private boolean exhausted;

    Tls12Cipher(Tls12Suite suite, byte[] key, byte[] iv, long firstSequence, boolean encrypt) {
        if (key.length != suite.keyLength || iv.length != suite.fixedIvLength) {
            throw new IllegalArgumentException("a " + suite + " key has " + suite.keyLength + " bytes and its iv " + suite.fixedIvLength);
        }
        this.suite = suite;
        this.mode = Providers.cipherMode(encrypt);
        this.cipher = new CipherSlot(suite.transformation);
        this.key = new SecretKeySpec(key, suite.keyAlgorithm);
        this.iv = iv.clone();
        this.seq = firstSequence;
    }

    /**
     * Begins one record of {@code type} and {@code plaintextLength}: GCM's explicit nonce is read at
     * {@code explicit}'s index {@code at} (opening) or, sealing, is the sequence number (RFC 5288
     * section 3 allows it: unique per key), which {@link #explicitNonce} then gives.
     */
    void start(int type, int plaintextLength, ByteBuffer explicit, int at) throws GeneralSecurityException {
        if (exhausted) {
            throw new GeneralSecurityException("the record sequence number would wrap");
        }
        if (suite.gcm()) {
            System.arraycopy(iv, 0, nonce, 0, 4);
            if (mode == Cipher.DECRYPT_MODE) {
                for (int i = 0; i < 8; i++) {
                    nonce[4 + i] = explicit.get(at + i);
                }
            } else {
                putLong(nonce, 4, seq);
            }
        } else {
            System.arraycopy(iv, 0, nonce, 0, 12);
            for (int i = 0; i < 8; i++) {
                nonce[11 - i] ^= (byte) (seq >>> (8 * i));
            }
        }
        putLong(aad, 0, seq);
        aad[8] = (byte) type;
        aad[9] = 3; // TLS 1.2 is all this layer speaks: another version in a header fails the tag
        aad[10] = 3;
        aad[11] = (byte) (plaintextLength >>> 8);
        aad[12] = (byte) plaintextLength;
        AlgorithmParameterSpec spec = suite.gcm() ? new GCMParameterSpec(RecordCipher.TAG * 8, nonce) : new IvParameterSpec(nonce);
        Cipher c = cipher.forRecord();
        c.init(mode, key, spec);
        c.updateAAD(aad);
    }

    /** The explicit nonce of the record being sealed (GCM): its 8 bytes go in front of the ciphertext. */
    void explicitNonce(ByteBuffer dst, int at) {
        for (int i = 0; i < 8; i++) {
            dst.put(at + i, nonce[4 + i]);
        }
    }

    /** Ends the record begun by {@link #start}; only a record that passed moves the sequence on. */
    int finish(ByteBuffer src, ByteBuffer dst) throws GeneralSecurityException {
        int n = cipher.current().doFinal(src, dst);
        if (++seq == 0) {
            exhausted = true;
        }
        return n;
    }

    long sequence() {
        return seq;
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (56 - 8 * i));
        }
    }

    /** Gives up the cipher object while the session is quiet ({@link CipherSlot#release}). */
    boolean release() {
        return cipher.release();
    }

    boolean holdsCipher() {
        return cipher.held();
    }
}
