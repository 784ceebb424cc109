package org.rpctlsservd.records;

/** The TLS 1.3 cipher suites the record layer protects, with what RFC 8446 appendix B.4 gives each. */
public enum Tls13Suite {
    TLS_AES_128_GCM_SHA256(0x1301, "AES/GCM/NoPadding", "AES", 16, "HmacSHA256", 32),
    TLS_AES_256_GCM_SHA384(0x1302, "AES/GCM/NoPadding", "AES", 32, "HmacSHA384", 48),
    TLS_CHACHA20_POLY1305_SHA256(0x1303, "ChaCha20-Poly1305", "ChaCha20", 32, "HmacSHA256", 32);

    /** The suite's code point on the wire. */
    public final int code;
    final String transformation;
    final String keyAlgorithm;
    final int keyLength;
    final String hmac;
    /** Hash.length: the length of a traffic secret. */
    public final int hashLength;

    Tls13Suite(int code, String transformation, String keyAlgorithm, int keyLength, String hmac, int hashLength) {
        this.code = code;
        this.transformation = transformation;
        this.keyAlgorithm = keyAlgorithm;
        this.keyLength = keyLength;
        this.hmac = hmac;
        this.hashLength = hashLength;
    }

    boolean gcm() {
        return this != TLS_CHACHA20_POLY1305_SHA256;
    }

    /** The cipher's parameters for one record's nonce (a 128-bit tag either way). */
    java.security.spec.AlgorithmParameterSpec spec(byte[] nonce) {
        return gcm() ? new javax.crypto.spec.GCMParameterSpec(128, nonce) : new javax.crypto.spec.IvParameterSpec(nonce);
    }

    /** The suite with this code point; IllegalArgumentException for one the record layer does not have (TLS 1.2's, CCM). */
    public static Tls13Suite of(int code) {
        for (Tls13Suite s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new IllegalArgumentException(String.format("no TLS 1.3 record protection for cipher suite 0x%04x", code));
    }
}
