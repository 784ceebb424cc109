package org.rpctlsservd.records;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF-Expand-Label (RFC 8446 section 7.1) on the JDK's HMAC. Hand-written because Java 17 has no
 * HKDF, and Bouncy Castle's (TlsCryptoUtils) works on its TlsSecret objects of a TlsCrypto, a
 * dependency this pure package does not otherwise need, for what is one HMAC per key here.
 */
final class Hkdf {
    private Hkdf() {
    }

    static byte[] expandLabel(Tls13Suite suite, byte[] secret, String label, byte[] context, int length) {
        byte[] full = ("tls13 " + label).getBytes(StandardCharsets.US_ASCII);
        // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel
        byte[] info = new byte[2 + 1 + full.length + 1 + context.length];
        info[0] = (byte) (length >>> 8);
        info[1] = (byte) length;
        info[2] = (byte) full.length;
        System.arraycopy(full, 0, info, 3, full.length);
        info[3 + full.length] = (byte) context.length;
        System.arraycopy(context, 0, info, 4 + full.length, context.length);
        try {
            Mac mac = Providers.mac(suite.hmac);
            mac.init(new SecretKeySpec(secret, suite.hmac));
            // HKDF-Expand (RFC 5869 section 2.3): T(i) = HMAC(PRK, T(i-1) | info | i)
            byte[] out = new byte[length];
            byte[] t = new byte[0];
            for (int i = 1, done = 0; done < length; i++) {
                mac.update(t);
                mac.update(info);
                mac.update((byte) i);
                t = mac.doFinal();
                int n = Math.min(t.length, length - done);
                System.arraycopy(t, 0, out, done, n);
                done += n;
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC " + suite.hmac + " unavailable", e);
        }
    }
}
