package org.rpctlsservd.daemon;

import java.io.IOException;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.ClientPolicy;
import org.rpctlsservd.handshake.TlsPolicy;

/**
 * rpc.tlsclntd's TLS context from its command line, as rpctls_setupcl_ssl builds its SSL_CTX: the
 * cipher names, with -m the certificate and key under -D, with -l/-p the CA material (and -r's
 * CRL). A file that cannot be used is named with its option; the daemon then does not start.
 */
final class ClientSetup {
    private ClientSetup() {
    }

    /** The checks of a start: every file read once, as the handshakes will read them. */
    static void check(Config c) throws TlsSetup.SetupException {
        try {
            if (c.ciphers() != null) {
                TlsPolicy.parseTls13Suites(c.ciphers());
            }
        } catch (IllegalArgumentException e) {
            throw new TlsSetup.SetupException("SSL_CTX_set_ciphersuites failed: " + e.getMessage());
        }
        try {
            if (c.mutualVerify()) {
                ServerCredentials.load(c.certDir());
            }
            if (c.caFile() != null || c.caPath() != null) {
                TrustMaterial.load(c.caFile(), c.caPath(), c.crlFile());
            }
        } catch (IOException e) {
            throw TlsSetup.SetupException.of(e);
        }
    }

    /** rpc.tlsclntd's handshake policy from its options. */
    static ClientPolicy policy(Config c) {
        int[] suites = c.ciphers() == null ? null : TlsPolicy.parseTls13Suites(c.ciphers());
        return new ClientPolicy(c.useTls12(), suites, verifies(c), c.mutualVerify(), c.certDir(), c.handshakeTimeout());
    }

    /** With -l or -p the server's certificate must verify and name the server. */
    static boolean verifies(Config c) {
        return c.caFile() != null || c.caPath() != null;
    }

    /** The CA material (with -r's CRL) the server's certificate is checked against; null without -l and -p. */
    static TrustMaterial trust(Config c) throws IOException {
        return verifies(c) ? TrustMaterial.load(c.caFile(), c.caPath(), c.crlFile()) : null;
    }
}
