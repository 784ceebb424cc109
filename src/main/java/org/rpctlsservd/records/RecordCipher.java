package org.rpctlsservd.records;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
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
    private final CipherSlot cipher;
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
        this.cipher = new CipherSlot(suite.transformation);
        this.secret = trafficSecret.clone();
        this.seq = firstSequence;
        derive();
    }

    /** For known-answer tests of the AEAD itself: this key and iv, no traffic secret. */
    RecordCipher(Tls13Suite suite, byte[] key, byte[] iv, boolean encrypt) throws GeneralSecurityException {
        this.suite = suite;
        this.mode = Providers.cipherMode(encrypt);
        this.cipher = new CipherSlot(suite.transformation);
        this.cipher.set(Providers.cipher(suite.transformation));
        this.secret = new byte[suite.hashLength];
        this.key = new SecretKeySpec(key, suite.keyAlgorithm);
        this.iv = iv.clone();
    }

    /** The nonce of the record at the current sequence number: the iv XOR the 64-bit sequence number (RFC 8446 section 5.3). */
    private void nextNonce() {
        System.arraycopy(iv, 0, nonce, 0, IV);
        for (int i = 0; i < 8; i++) {
            nonce[IV - 1 - i] ^= (byte) (seq >>> (8 * i));
        }
    }

    /** Sealing or opening (as this direction does) on libcrypto in direct buffers ({@link NativeGcm}), made at the first such record. */
    private NativeGcm.Context direct;

    /**
     * Seals one TLS 1.3 application-data record in direct buffers on {@link NativeGcm}: the
     * {@code n} bytes of {@code src} at {@code off} and the inner content type {@code type}, at
     * {@code dst}'s {@code dstOff}, behind the record's header already there, under the next nonce.
     * Returns the bytes written ({@code n} + 17).
     */
    int sealDirect(ByteBuffer src, int off, int n, int type, ByteBuffer dst, int dstOff) throws GeneralSecurityException {
        NativeGcm.Context c = directRecord(true);
        byte[] k = c.held() ? null : key.getEncoded(); // keyed at the first record under a key, from a copy wiped after
        try {
            int written = c.seal(k, nonce, src, off, n, type, dst, dstOff);
            advance();
            return written;
        } finally {
            wipe(k);
        }
    }

    /**
     * Opens in place, on {@link NativeGcm}, the record whose header is the 5 bytes of the direct
     * {@code buf} before {@code off} and whose ciphertext and tag are the {@code len} bytes at
     * {@code off}; returns the inner plaintext's length. Only a record that passed moves the sequence on.
     */
    int openDirect(ByteBuffer buf, int off, int len) throws GeneralSecurityException {
        NativeGcm.Context c = directRecord(false);
        byte[] k = c.held() ? null : key.getEncoded();
        try {
            int n = c.open(k, nonce, buf, off, len);
            advance();
            return n;
        } finally {
            wipe(k);
        }
    }

    /** Begins a record on {@link NativeGcm}: the nonce for the current sequence number, and this direction's context. */
    private NativeGcm.Context directRecord(boolean encrypt) throws GeneralSecurityException {
        if (exhausted) {
            throw new GeneralSecurityException("the record sequence number would wrap");
        }
        nextNonce();
        if (direct == null) {
            direct = new NativeGcm.Context(encrypt, !suite.gcm());
        }
        return direct;
    }

    /** A record passed: the sequence moves on (RFC 8446 section 5.3 forbids using it again once it wraps). */
    private void advance() {
        records++;
        if (++seq == 0) {
            exhausted = true;
        }
    }

    private static void wipe(byte[] k) {
        if (k != null) {
            Arrays.fill(k, (byte) 0);
        }
    }

    private void releaseDirect() {
        if (direct != null) {
            direct.release();
        }
    }

    private void derive() {
        releaseDirect(); // keyed again, with the new key, at the next record
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
        nextNonce();
        Cipher c = cipher.forRecord();
        c.init(mode, key, suite.spec(nonce));
        c.updateAAD(header);
    }

    int update(ByteBuffer src, ByteBuffer dst) throws GeneralSecurityException {
        return cipher.current().update(src, dst);
    }

    /** Ends the record begun by {@link #start}; only a record that passed moves the sequence on. */
    int finish(ByteBuffer src, ByteBuffer dst) throws GeneralSecurityException {
        int n = cipher.current().doFinal(src, dst);
        advance();
        return n;
    }

    /** Gives up the cipher object while the session is quiet ({@link CipherSlot#release}); key, iv and sequence number stay. */
    boolean release() {
        boolean had = direct != null && direct.release();
        return cipher.release() | had;
    }

    /** True while it holds a cipher object (for tests of {@link #release}). */
    boolean holdsCipher() {
        return cipher.held();
    }

    /** True while it holds a native context (about 1 KB of native memory, counted as a cipher). */
    boolean holdsNativeContext() {
        return direct != null && direct.held();
    }

    Cipher cipherForTest() {
        return cipher.current();
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
