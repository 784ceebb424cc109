package org.rpctlsservd.handshake;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.NamedGroup;

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
        boolean verbose,
        int[] groups) {

    /**
     * The key-exchange groups, in the server's order of preference: the hybrid post-quantum ones
     * first (X25519MLKEM768 is OpenSSL 3.5's and GnuTLS's default), then the classical ones.
     */
    public static final int[] DEFAULT_GROUPS = {
        NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1,
    };
    /** What --groups may name (Bouncy Castle's names, which are OpenSSL's), with OpenSSL's P-NNN aliases. */
    private static final int[] GROUPS_ALL = {
        NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024, NamedGroup.x25519,
        NamedGroup.x448, NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.secp521r1, NamedGroup.ffdhe2048,
        NamedGroup.ffdhe3072, NamedGroup.ffdhe4096,
    };
    private static final Map<String, Integer> GROUP_ALIASES = Map.of("p-256", NamedGroup.secp256r1, "p-384", NamedGroup.secp384r1,
            "p-521", NamedGroup.secp521r1);

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
        groups = groups.clone();
    }

    /** The groups as a list of names, for messages and logs. */
    public static String groupNames(int[] groups) {
        StringBuilder b = new StringBuilder();
        for (int g : groups) {
            b.append(b.length() == 0 ? "" : ":").append(NamedGroup.getName(g));
        }
        return b.toString();
    }

    /**
     * {@code --groups}: group names, colon-separated, in order of preference, matched without
     * regard to case. An unknown name is refused with the names that are known.
     */
    public static int[] parseGroups(String list) {
        return parseList(list, name -> {
            Integer found = GROUP_ALIASES.get(name.toLowerCase(java.util.Locale.ROOT));
            for (int g : GROUPS_ALL) {
                if (NamedGroup.getName(g).equalsIgnoreCase(name)) {
                    found = g;
                }
            }
            if (found == null) {
                throw new IllegalArgumentException("unknown group `" + name + "' (known: " + groupNames(GROUPS_ALL) + ")");
            }
            return found;
        }, name -> "group " + name + " named twice", "no group in \"" + list + "\"");
    }

    /**
     * A colon-separated list of names, each looked up by {@code lookup} (which refuses an unknown
     * one), empty names skipped; {@code twice} gives the refusal of a repeated one (null: allowed).
     */
    private static int[] parseList(String list, java.util.function.ToIntFunction<String> lookup,
            java.util.function.UnaryOperator<String> twice, String none) {
        String[] names = list.split(":");
        int[] out = new int[names.length];
        int n = 0;
        for (String name : names) {
            if (name.isEmpty()) {
                continue;
            }
            int found = lookup.applyAsInt(name);
            for (int i = 0; twice != null && i < n; i++) {
                if (out[i] == found) {
                    throw new IllegalArgumentException(twice.apply(name));
                }
            }
            out[n++] = found;
        }
        if (n == 0) {
            throw new IllegalArgumentException(none);
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** The IANA name of a cipher suite. */
    public static String suiteName(int suite) {
        String name = NAMES.get(suite); // not getOrDefault: its default would be formatted on every handshake's audit line
        return name != null ? name : String.format("0x%04x", suite);
    }

    /**
     * {@code -C}: TLS 1.3 suite names, colon-separated, in order of preference. An unknown or
     * non-TLS 1.3 name is refused, as OpenSSL's SSL_CTX_set_ciphersuites() refuses it.
     */
    public static int[] parseTls13Suites(String list) {
        return parseList(list, name -> {
            for (int s : TLS13_ALL) {
                if (suiteName(s).equals(name)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown TLS 1.3 cipher suite " + name);
        }, null, "no TLS 1.3 cipher suite in \"" + list + "\"");
    }
}
