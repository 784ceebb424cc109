package org.rpctlsservd.records;

import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.Security;
import javax.crypto.Cipher;
import javax.crypto.Mac;

/**
 * The JDK's ciphers, asked of SunJCE by name as handshake's RecordCrypto does: by algorithm alone a
 * java.security that lists another provider first would put every record on that provider's
 * (plain-Java) GCM. A JDK without SunJCE (a FIPS set-up) is asked by algorithm.
 */
final class Providers {
    private static final Provider SUN_JCE = Security.getProvider("SunJCE");

    private Providers() {
    }

    static Cipher cipher(String transformation) throws GeneralSecurityException {
        return SUN_JCE != null ? Cipher.getInstance(transformation, SUN_JCE) : Cipher.getInstance(transformation);
    }

    /**
     * {@link #cipher} for the record layers, whose suites name transformations every JDK has: one
     * missing is a broken JDK, not the caller's error, so it is not a checked exception.
     */
    static Cipher recordCipher(String transformation) {
        try {
            return cipher(transformation);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(transformation + " unavailable", e);
        }
    }

    /** The Cipher mode of a record cipher that encrypts (seals) or decrypts (opens). */
    static int cipherMode(boolean encrypt) {
        return encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
    }

    static Mac mac(String algorithm) throws GeneralSecurityException {
        return SUN_JCE != null ? Mac.getInstance(algorithm, SUN_JCE) : Mac.getInstance(algorithm);
    }
}
