package org.rpctlsservd.handshake;

import java.time.Duration;

/**
 * What rpc.tlsclntd's handshakes allow, check and present, from its command line.
 *
 * @param tls12Only   -2: TLS 1.2 only (minimum and maximum, as rpc.tlsclntd pins both); otherwise TLS 1.3 only
 * @param ciphers     -C: the TLS 1.3 suites in order of preference ({@link TlsPolicy#parseTls13Suites}); with -2
 *                    they do not apply (OpenSSL's SSL_CTX_set_ciphersuites is TLS 1.3's), as in rpc.tlsclntd
 * @param verify      -l or -p given: the server's certificate must verify against the trust material and name
 *                    the server (DNS name or IP literal)
 * @param presentCert -m: present {@code cert.pem}/{@code certkey.pem} under {@code certDir}, or a CONNECT's
 *                    certname's {@code <certname>.pem}/{@code <certname>key.pem}
 * @param certDir     -D: where the client certificates are
 * @param deadline    --handshake-timeout, counted from the CONNECT upcall
 */
public record ClientPolicy(boolean tls12Only, int[] ciphers, boolean verify, boolean presentCert, String certDir, Duration deadline) {
    /** rpc.tlsclntd's default -D. */
    public static final String DEFAULT_CERTDIR = "/etc/rpc.tlsclntd/";

    public ClientPolicy {
        ciphers = ciphers == null ? TlsPolicy.DEFAULT_TLS13.clone() : ciphers.clone();
        if (ciphers.length == 0) {
            throw new IllegalArgumentException("no TLS 1.3 cipher suite");
        }
        certDir = certDir == null ? DEFAULT_CERTDIR : certDir;
        if (deadline == null || deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("the handshake deadline must be positive, not " + deadline);
        }
    }
}
