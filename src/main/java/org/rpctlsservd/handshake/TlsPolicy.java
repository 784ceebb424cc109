package org.rpctlsservd.handshake;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.bouncycastle.tls.CipherSuite;

/** What a handshake allows and checks, from the command line. */
public record TlsPolicy(
        boolean allowTls12,
        int[] tls13Suites,
        boolean alpnRequired,
        Duration deadline,
        boolean requestClientCert,
        boolean checkHost,
        int wildcardFlags,
        boolean certUser,
        String domain,
        boolean verbose) {

    /** The TLS 1.3 suites, in OpenSSL's default preference order. */
    public static final int[] DEFAULT_TLS13 = {
        CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_AES_128_GCM_SHA256,
    };
    private static final int[] TLS13_ALL = {
        CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_AES_128_CCM_SHA256, CipherSuite.TLS_AES_128_CCM_8_SHA256,
    };
    private static final Map<Integer, String> NAMES = new HashMap<>();

    static {
        for (Field f : CipherSuite.class.getFields()) {
            if (f.getType() == int.class && Modifier.isStatic(f.getModifiers()) && f.getName().startsWith("TLS_")) {
                try {
                    NAMES.putIfAbsent(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new ExceptionInInitializerError(e);
                }
            }
        }
    }

    public TlsPolicy {
        tls13Suites = tls13Suites.clone();
    }

    /** The IANA name of a cipher suite. */
    public static String suiteName(int suite) {
        return NAMES.getOrDefault(suite, String.format("0x%04x", suite));
    }

    /**
     * {@code -C}: TLS 1.3 suite names, colon-separated, in order of preference. An unknown or
     * non-TLS 1.3 name is refused, as OpenSSL's SSL_CTX_set_ciphersuites() refuses it.
     */
    public static int[] parseTls13Suites(String list) {
        String[] names = list.split(":");
        int[] out = new int[names.length];
        int n = 0;
        for (String name : names) {
            if (name.isEmpty()) {
                continue;
            }
            int found = -1;
            for (int s : TLS13_ALL) {
                if (suiteName(s).equals(name)) {
                    found = s;
                }
            }
            if (found < 0) {
                throw new IllegalArgumentException("unknown TLS 1.3 cipher suite " + name);
            }
            out[n++] = found;
        }
        if (n == 0) {
            throw new IllegalArgumentException("no TLS 1.3 cipher suite in \"" + list + "\"");
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
