package org.rpctlsservd.certs;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * A server key that never leaves a PKCS#11 token, named by an RFC 7512 URI, and used through the
 * JDK's SunPKCS11 provider:
 * {@code pkcs11:token=rpc;object=server?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/rpc.tlsservd/pin}.
 * The token is chosen by {@code slot-id} or by its label ({@code token}); the key by its label
 * ({@code object}) or {@code id}. The PIN comes from a file ({@code pin-source=file:...}), or
 * {@code pin-value}.
 */
public final class TokenKey {
    /** One provider per module and slot: the module is initialized once per process, and reloads reuse it. */
    private static final Map<String, Provider> PROVIDERS = new HashMap<>();

    private final Map<String, String> path;
    private final Map<String, String> query;
    private final String uri;

    private TokenKey(String uri, Map<String, String> path, Map<String, String> query) {
        this.uri = uri;
        this.path = path;
        this.query = query;
    }

    /** A key in a token: its private key object and the provider that signs with it. */
    public record Loaded(PrivateKey key, Provider provider) {
    }

    /** Parses the URI; IllegalArgumentException with the reason when it is not one this daemon can use. */
    public static TokenKey parse(String uri) {
        if (!uri.startsWith("pkcs11:")) {
            throw new IllegalArgumentException("not a PKCS#11 URI (pkcs11:...): `" + uri + "'");
        }
        String rest = uri.substring("pkcs11:".length());
        int q = rest.indexOf('?');
        Map<String, String> path = attributes(q < 0 ? rest : rest.substring(0, q), ";");
        Map<String, String> query = attributes(q < 0 ? "" : rest.substring(q + 1), "&");
        if (!query.containsKey("module-path")) {
            throw new IllegalArgumentException("the PKCS#11 URI needs module-path=/path/to/module.so");
        }
        if (!path.containsKey("object")) {
            throw new IllegalArgumentException("the PKCS#11 URI needs object=LABEL for the key (the JDK's key store names keys by label)");
        }
        if (!path.containsKey("token") && !path.containsKey("slot-id")) {
            throw new IllegalArgumentException("the PKCS#11 URI needs token=LABEL or slot-id=N");
        }
        if (!query.containsKey("pin-source") && !query.containsKey("pin-value")) {
            throw new IllegalArgumentException("the PKCS#11 URI needs pin-source=file:/path (or pin-value=)");
        }
        String pinSource = query.get("pin-source");
        if (pinSource != null && !pinSource.startsWith("file:")) {
            throw new IllegalArgumentException("pin-source must be file:/path, not `" + pinSource + "'");
        }
        return new TokenKey(uri, path, query);
    }

    private static Map<String, String> attributes(String s, String separator) {
        Map<String, String> out = new HashMap<>();
        if (s.isEmpty()) {
            return out;
        }
        for (String a : s.split(separator)) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("malformed PKCS#11 URI attribute `" + a + "'");
            }
            // RFC 7512 percent-encodes; '+' is literal there, unlike in forms.
            String value = URLDecoder.decode(a.substring(eq + 1).replace("+", "%2B"), StandardCharsets.UTF_8);
            out.put(a.substring(0, eq), value);
        }
        return out;
    }

    /** The file the PIN comes from (pin-source=file:...), or null for pin-value. */
    public Path pinFile() {
        String source = query.get("pin-source");
        return source == null ? null : Path.of(source.substring("file:".length()));
    }

    /** The URI without its PIN, for logs. */
    public String redacted() {
        return uri.replaceAll("pin-value=[^&]*", "pin-value=***");
    }

    /** Opens the token and finds the key; the message says what is wrong. */
    public Loaded load() throws IOException {
        String module = query.get("module-path");
        FileProblem.openable(Path.of(module), "--key-uri module-path");
        long slot = slot(module);
        char[] pin = pin();
        try {
            Provider p = provider(module, slot);
            KeyStore ks = KeyStore.getInstance("PKCS11", p);
            ks.load(null, pin);
            String alias = alias(ks);
            Key k = ks.getKey(alias, pin);
            if (!(k instanceof PrivateKey)) {
                throw new IOException("PKCS#11 object " + alias + " is not a private key");
            }
            return new Loaded((PrivateKey) k, p);
        } catch (GeneralSecurityException | java.security.ProviderException | IOException e) {
            // the JDK wraps the token's own word (CKR_PIN_INCORRECT, say) a few levels down
            Throwable c = e;
            while (c.getCause() != null && c.getCause() != c) {
                c = c.getCause();
            }
            throw new IOException("cannot use the key in PKCS#11 slot " + slot + " of " + module + ": " + c.getMessage(), e);
        } finally {
            java.util.Arrays.fill(pin, '\0');
        }
    }

    /** The key's alias: its object label. */
    private String alias(KeyStore ks) throws GeneralSecurityException, IOException {
        String object = path.get("object");
        if (!ks.isKeyEntry(object)) {
            throw new IOException("no private key labelled `" + object + "' (with its certificate) in the token; it holds "
                    + Collections.list(ks.aliases()));
        }
        return object;
    }

    private char[] pin() throws IOException {
        String value = query.get("pin-value");
        if (value != null) {
            return value.toCharArray();
        }
        Path file = pinFile();
        String s = new String(FileProblem.read(file, "--key-uri pin-source"), StandardCharsets.UTF_8);
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).replace("\r", "").toCharArray();
    }

    /** slot-id, or the slot whose token has the label {@code token}. */
    private long slot(String module) throws IOException {
        String id = path.get("slot-id");
        if (id != null) {
            try {
                return Long.parseLong(id);
            } catch (NumberFormatException e) {
                throw new IOException("slot-id must be a number, not `" + id + "'");
            }
        }
        return TokenSlots.find(module, path.get("token"));
    }

    private static synchronized Provider provider(String module, long slot) {
        return PROVIDERS.computeIfAbsent(module + "#" + slot, k -> Security.getProvider("SunPKCS11")
                .configure("--name=rpctlssd-" + slot + "\nlibrary=" + module + "\nslot=" + slot + "\n"));
    }
}
