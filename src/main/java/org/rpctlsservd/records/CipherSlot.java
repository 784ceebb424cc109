package org.rpctlsservd.records;

import java.security.GeneralSecurityException;
import javax.crypto.Cipher;

/**
 * A record cipher's javax.crypto.Cipher object: made for the first record, made again when the
 * provider choice has moved on since ({@link Providers#generation}: the native provider loaded), and
 * given up while the session is quiet ({@link #release}). Used on one thread at a time, under the
 * session's lock, from a record's start to its end.
 */
final class CipherSlot {
    private final String transformation;
    private Cipher cipher;
    private int generation;

    CipherSlot(String transformation) {
        this.transformation = transformation;
    }

    /**
     * The cipher for the record beginning now. A provider that cannot make one (its native memory
     * exhausted, say) throws GeneralSecurityException, which ends the connection as a failed record.
     */
    Cipher forRecord() throws GeneralSecurityException {
        int now = Providers.generation();
        if (cipher == null || generation != now) {
            cipher = null;
            cipher = Providers.cipher(transformation);
            generation = now;
        }
        return cipher;
    }

    /** For known-answer tests: this cipher, made by the caller. */
    void set(Cipher c) {
        cipher = c;
        generation = Providers.generation();
    }

    /** The cipher of the record begun by {@link #forRecord}. */
    Cipher current() {
        return cipher;
    }

    /**
     * Gives up the cipher object (about 0.7 KB of heap on SunJCE; on the native provider 0.5 KB and
     * 1 KB of native context, freed with it); true when it held one.
     */
    boolean release() {
        boolean held = cipher != null;
        cipher = null;
        return held;
    }

    boolean held() {
        return cipher != null;
    }
}
