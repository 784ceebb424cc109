package org.rpctlsservd.daemon;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.rpctlsservd.certs.AllowList;
import org.rpctlsservd.certs.FileProblem;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.TlsPolicy;

/**
 * The daemon's TLS context, built from the command line as rpctls_setup_ssl builds its SSL_CTX.
 * A file that cannot be used is named with its option and the reason ({@link FileProblem}); any
 * other failure is "Can't create SSL context" with the reason. Either way the daemon does not start.
 */
public final class TlsSetup {
    private TlsSetup() {
    }

    /** Start-up refused: the message is the whole line to show. */
    public static final class SetupException extends Exception {
        private static final long serialVersionUID = 1L;

        SetupException(String reason) {
            super("Can't create SSL context: " + reason);
        }

        /** A file's problem: said as it is, naming the file and its option. */
        SetupException(FileProblem problem) {
            super(problem.getMessage(), problem);
        }

        static SetupException of(IOException e) {
            return e instanceof FileProblem ? new SetupException((FileProblem) e) : new SetupException(e.getMessage());
        }
    }

    /** What the TLS engine is made of, read once: the policy, the server's credentials, the CA material (null without -m). */
    public record Material(TlsPolicy policy, ServerCredentials credentials, TrustMaterial trust) {
    }

    /** The engine's material from {@code c}: the checks of a start, and what the start then serves with. */
    public static Material material(Config c) throws SetupException {
        return new Material(policy(c), credentials(c), trust(c));
    }

    public static TlsPolicy policy(Config c) throws SetupException {
        int[] suites;
        try {
            suites = c.ciphers() == null ? TlsPolicy.DEFAULT_TLS13 : TlsPolicy.parseTls13Suites(c.ciphers());
        } catch (IllegalArgumentException e) {
            throw new SetupException("SSL_CTX_set_ciphersuites failed: " + e.getMessage());
        }
        int[] groups;
        try {
            groups = c.groups() == null ? TlsPolicy.DEFAULT_GROUPS : TlsPolicy.parseGroups(c.groups());
        } catch (IllegalArgumentException e) {
            throw new SetupException("SSL_CTX_set1_groups_list failed: " + e.getMessage());
        }
        return new TlsPolicy(c.allowTls12(), suites, c.requireAlpn(), c.handshakeTimeout(), c.mutualVerify(),
                c.checkHost(), c.wildcardFlags(), c.certUser(), c.domain(), c.verbose(), groups);
    }

    public static ServerCredentials credentials(Config c) throws SetupException {
        try {
            if (c.throwawayCert()) {
                return ServerCredentials.throwaway(hostname());
            }
            return ServerCredentials.load(c.certDir(), keySource(c));
        } catch (IOException e) {
            throw SetupException.of(e);
        }
    }

    /** The CA material for -m with -l and/or -p (the CRL of -r with it); null otherwise. */
    public static TrustMaterial trust(Config c) throws SetupException {
        if (!c.mutualVerify() || (c.caFile() == null && c.caPath() == null)) {
            return null;
        }
        try {
            return TrustMaterial.load(c.caFile(), c.caPath(), c.crlFile()).withAllowList(allowList(c));
        } catch (IOException e) {
            throw SetupException.of(e);
        }
    }

    /** Where the key comes from: certkey.pem, decrypted with --key-passphrase-file, or a token (--key-uri). */
    public static ServerCredentials.KeySource keySource(Config c) {
        return new ServerCredentials.KeySource(c.keyUri() == null ? null : org.rpctlsservd.certs.TokenKey.parse(c.keyUri()),
                c.keyPassphraseFile());
    }

    /** --allow-subject, --allow-san and --require-eku. */
    public static AllowList allowList(Config c) {
        return new AllowList(c.allowSubjects(), c.allowSans(), c.requireEku());
    }

    static String hostname() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
