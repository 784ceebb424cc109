package org.rpctlsservd.records;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.spec.AlgorithmParameterSpec;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * One direction's record protection (RFC 8446 section 5.2-5.3): the key and iv from the traffic
 * secret, the per-record nonce (iv XOR the 64-bit sequence number), the AEAD on the JDK's cipher,
 * and KeyUpdate's next secret (section 7.2).
 */
final class RecordCipher {
    static final int TAG = 16;
    static final int IV = 12;

    private final Tls13Suite suite;
    /** Null while the session is quiet ({@link #release}): made again for its next record. */
    private Cipher cipher;
    /** Providers' generation the cipher object was made in: a later one (the native provider loaded) makes it anew. */
    private int generation;
    private final int mode;
    private byte[] secret;
    private SecretKeySpec key;
    private byte[] iv;
    private final byte[] nonce = new byte[IV];
    private long seq;
    /** Records protected under the current key (for the key's usage limit). */
    private long records;
    /** The sequence number wrapped: RFC 8446 section 5.3 forbids using it again. */
    private boolean exhausted;

    RecordCipher(Tls13Suite suite, byte[] trafficSecret, long firstSequence, boolean encrypt) {
        if (trafficSecret.length != suite.hashLength) {
            throw new IllegalArgumentException("a " + suite + " traffic secret has " + suite.hashLength + " bytes, not " + trafficSecret.length);
        }
        this.suite = suite;
        this.mode = Providers.cipherMode(encrypt);
        this.secret = trafficSecret.clone();
        this.seq = firstSequence;
        derive();
    }

    /** For known-answer tests of the AEAD itself: this key and iv, no traffic secret. */
    RecordCipher(Tls13Suite suite, byte[] key, byte[] iv, boolean encrypt) throws GeneralSecurityException {
        this.suite = suite;
        this.mode = Providers.cipherMode(encrypt);
        this.cipher = Providers.cipher(suite.transformation);
        this.secret = new byte[suite.hashLength];
        this.key = new SecretKeySpec(key, suite.keyAlgorithm);
        this.iv = iv.clone();
    }

    private void derive() {
        byte[] k = Hkdf.expandLabel(suite, secret, "key", new byte[0], suite.keyLength);
        key = new SecretKeySpec(k, suite.keyAlgorithm);
        Arrays.fill(k, (byte) 0);
        iv = Hkdf.expandLabel(suite, secret, "iv", new byte[0], IV);
        records = 0;
    }

    /** KeyUpdate: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length); the sequence restarts at 0. */
    void update() {
        byte[] next = Hkdf.expandLabel(suite, secret, "traffic upd", new byte[0], suite.hashLength);
        Arrays.fill(secret, (byte) 0);
        secret = next;
        seq = 0;
        exhausted = false;
        derive();
    }

    /** Begins one record: the nonce for the current sequence number, and the record header as additional data. */
    void start(byte[] header) throws GeneralSecurityException {
        if (exhausted) {
            throw new GeneralSecurityException("the record sequence number would wrap");
        }
        System.arraycopy(iv, 0, nonce, 0, IV);
        for (int i = 0; i < 8; i++) {
            nonce[IV - 1 - i] ^= (byte) (seq >>> (8 * i));
        }
        AlgorithmParameterSpec spec = suite.gcm() ? new GCMParameterSpec(TAG * 8, nonce) : new IvParameterSpec(nonce);
        if (cipher == null || generation != Providers.generation()) {
            generation = Providers.generation();
            cipher = Providers.recordCipher(suite.transformation);
        }
        cipher.init(mode, key, spec);
        cipher.updateAAD(header);
    }

    int update(ByteBuffer src, ByteBuffer dst) throws GeneralSecurityException {
        return cipher.update(src, dst);
    }

    /** Ends the record begun by {@link #start}; only a record that passed moves the sequence on. */
    int finish(ByteBuffer src, ByteBuffer dst) throws GeneralSecurityException {
        int n = cipher.doFinal(src, dst);
        records++;
        if (++seq == 0) {
            exhausted = true;
        }
        return n;
    }

    /**
     * Gives up the cipher object (about 0.7 KB of heap on SunJCE; on the native provider 0.5 KB and
     * 1 KB of native context) while the session is quiet; key, iv and sequence number stay.
     */
    boolean release() {
        boolean held = cipher != null;
        cipher = null;
        return held;
    }

    /** True while it holds a cipher object (for tests of {@link #release}). */
    boolean holdsCipher() {
        return cipher != null;
    }

    Cipher cipherForTest() {
        return cipher;
    }

    long sequence() {
        return seq;
    }

    long recordsUnderKey() {
        return records;
    }

    byte[] key() {
        return key.getEncoded();
    }

    byte[] iv() {
        return iv.clone();
    }

    byte[] secret() {
        return secret.clone();
    }
}
