package org.rpctlsservd.records;

/**
 * The TLS 1.2 AEAD cipher suites the daemon negotiates under -2 (handshake's RpcTlsServer and
 * RpcTlsClient), with what RFC 5288 (AES-GCM: a 4-byte implicit salt and an 8-byte explicit nonce
 * in each record) and RFC 7905 (ChaCha20-Poly1305: a 12-byte iv XOR the sequence number, no
 * explicit nonce) give each. The key exchange and signature do not matter to the records.
 */
public enum Tls12Suite {
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256(0xC02B, "AES/GCM/NoPadding", "AES", 16, 4, 8),
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384(0xC02C, "AES/GCM/NoPadding", "AES", 32, 4, 8),
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256(0xC02F, "AES/GCM/NoPadding", "AES", 16, 4, 8),
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384(0xC030, "AES/GCM/NoPadding", "AES", 32, 4, 8),
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256(0xCCA8, "ChaCha20-Poly1305", "ChaCha20", 32, 12, 0),
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256(0xCCA9, "ChaCha20-Poly1305", "ChaCha20", 32, 12, 0);

    /** The suite's code point on the wire. */
    public final int code;
    final String transformation;
    final String keyAlgorithm;
    /** The write key's length (SecurityParameters.enc_key_length). */
    public final int keyLength;
    /** The implicit part of the nonce from the key block (fixed_iv_length: client_write_IV, server_write_IV). */
    public final int fixedIvLength;
    /** The nonce bytes each record carries in front of its ciphertext (record_iv_length). */
    public final int explicitNonceLength;

    Tls12Suite(int code, String transformation, String keyAlgorithm, int keyLength, int fixedIvLength, int explicitNonceLength) {
        this.code = code;
        this.transformation = transformation;
        this.keyAlgorithm = keyAlgorithm;
        this.keyLength = keyLength;
        this.fixedIvLength = fixedIvLength;
        this.explicitNonceLength = explicitNonceLength;
    }

    boolean gcm() {
        return explicitNonceLength != 0;
    }

    /** What a record adds to its plaintext: the header, the explicit nonce, the tag. */
    public int overhead() {
        return RecordLayer.HEADER + explicitNonceLength + RecordCipher.TAG;
    }

    /** The suite with this code point; IllegalArgumentException for one the record layer does not have (CBC, CCM, TLS 1.3's). */
    public static Tls12Suite of(int code) {
        for (Tls12Suite s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new IllegalArgumentException(String.format("no TLS 1.2 record protection for cipher suite 0x%04x", code));
    }
}
