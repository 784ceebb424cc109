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

    static Mac mac(String algorithm) throws GeneralSecurityException {
        return SUN_JCE != null ? Mac.getInstance(algorithm, SUN_JCE) : Mac.getInstance(algorithm);
    }
}
