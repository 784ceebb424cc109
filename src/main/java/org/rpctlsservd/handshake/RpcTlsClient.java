package org.rpctlsservd.handshake;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Vector;
import java.util.logging.Logger;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.AlertLevel;
import org.bouncycastle.tls.Certificate;
import org.bouncycastle.tls.CertificateRequest;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.DefaultTlsClient;
import org.bouncycastle.tls.NameType;
import org.bouncycastle.tls.NamedGroup;
import org.bouncycastle.tls.ProtocolName;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.ServerName;
import org.bouncycastle.tls.TlsAuthentication;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsServerCertificate;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCertificate;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.ServerIdentity;
import org.rpctlsservd.certs.TrustMaterial;

/**
 * Bouncy Castle's client side of one handshake, set up as rpc.tlsclntd's SSL_CTX and SSL: TLS 1.3
 * only (TLS 1.2 only with -2), the -C suites, ALPN "sunrpc" offered, hybrid post-quantum groups
 * first with a key share for the first, the server's certificate checked against the trust
 * material and the server's name when -l/-p are given (refused with an alert that says why), and a
 * client certificate when the server asks and -m gave one.
 */
final class RpcTlsClient extends DefaultTlsClient {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    private static final int[] TLS12 = {
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    };

    private final BcTlsCrypto crypto;
    private final ClientPolicy policy;
    /** Null unless -l/-p: then the server's certificate must verify and name {@link #serverName}. */
    private final TrustMaterial trust;
    private final String serverName;
    /** Presented when the server asks; null: none (an empty Certificate, as OpenSSL sends). */
    private final ServerCredentials credentials;
    private final TlsCertificate[] chain;
    private volatile List<X509CertificateHolder> serverChain = List.of();
    private volatile TrustMaterial.Verification verification;
    private volatile boolean complete;
    private volatile String alert;
    /** Why the server's certificate was refused, in words, when it was: the reason the handshake fails with. */
    private volatile String refusal;
    private volatile boolean askedForCertificate;

    RpcTlsClient(BcTlsCrypto crypto, ClientPolicy policy, TrustMaterial trust, String serverName, ServerCredentials credentials,
            TlsCertificate[] chain) {
        super(crypto);
        this.crypto = crypto;
        this.policy = policy;
        this.trust = trust;
        this.serverName = serverName;
        this.credentials = credentials;
        this.chain = chain;
    }

    boolean complete() {
        return complete;
    }

    /** Why the handshake failed: our refusal of the certificate, else the last fatal alert; null before either. */
    String failure() {
        return refusal != null ? refusal : alert;
    }

    /** The server's chain as it sent it, leaf first (empty before its Certificate message). */
    List<X509CertificateHolder> serverChain() {
        return serverChain;
    }

    /** True when the server's certificate was checked (-l/-p) and passed. */
    boolean verified() {
        return verification != null && verification.verified() && refusal == null;
    }

    TrustMaterial.Verification verification() {
        return verification;
    }

    /** True when the server asked for a client certificate. */
    boolean askedForCertificate() {
        return askedForCertificate;
    }

    /** The negotiated parameters (the connection's once the handshake is done), or null before any. */
    SecurityParameters securityParameters() {
        return TlsSides.securityParameters(context);
    }

    /** -2 pins both ends to TLS 1.2, as rpc.tlsclntd's min and max; RFC 9289 asks for TLS 1.3 otherwise. */
    @Override
    protected ProtocolVersion[] getSupportedVersions() {
        return policy.tls12Only() ? ProtocolVersion.TLSv12.only() : ProtocolVersion.TLSv13.only();
    }

    @Override
    protected int[] getSupportedCipherSuites() {
        return TlsUtils.getSupportedCipherSuites(getCrypto(), policy.tls12Only() ? TLS12 : policy.ciphers());
    }

    /** The server's list ({@link TlsPolicy#DEFAULT_GROUPS}): hybrids first; with -2 the classical ones TLS 1.2 can use. */
    @Override
    @SuppressWarnings({"rawtypes", "unchecked"})
    protected Vector getSupportedGroups(Vector namedGroupRoles) {
        Vector v = new Vector();
        ProtocolVersion version = policy.tls12Only() ? ProtocolVersion.TLSv12 : ProtocolVersion.TLSv13;
        for (int g : TlsPolicy.DEFAULT_GROUPS) {
            if (NamedGroup.canBeNegotiated(g, version) && TlsUtils.isSupportedNamedGroup(crypto, g)) { // hybrids too, which hasNamedGroup does not count
                v.add(g);
            }
        }
        return v;
    }

    /**
     * The key share goes with the first group, a hybrid: a server that has it answers at once; one
     * that does not asks for a classical share (HelloRetryRequest), a round trip more once per mount.
     */
    @Override
    @SuppressWarnings({"rawtypes", "unchecked"})
    public Vector getEarlyKeyShareGroups() {
        Vector v = new Vector();
        if (supportedGroups != null && !supportedGroups.isEmpty()) {
            v.add(supportedGroups.get(0));
        }
        return v;
    }

    @Override
    protected Vector<ProtocolName> getProtocolNames() {
        return TlsSides.sunrpc();
    }

    /** SNI for a DNS name (never for an IP literal, RFC 6066), so a server with several certificates picks the right one. */
    @Override
    @SuppressWarnings({"rawtypes", "unchecked"})
    protected Vector getSNIServerNames() {
        if (serverName == null || ServerIdentity.isIpLiteral(serverName)) {
            return null;
        }
        Vector v = new Vector();
        v.add(new ServerName(NameType.host_name, serverName.getBytes(StandardCharsets.US_ASCII)));
        return v;
    }

    @Override
    public TlsAuthentication getAuthentication() {
        return new TlsAuthentication() {
            @Override
            public void notifyServerCertificate(TlsServerCertificate serverCertificate) throws IOException {
                check(serverCertificate.getCertificate());
            }

            @Override
            public TlsCredentials getClientCredentials(CertificateRequest request) throws IOException {
                askedForCertificate = true;
                if (credentials == null) {
                    return null;
                }
                return Signers.signer(context, crypto, credentials, chain, request.getCertificateRequestContext(),
                        request.getSupportedSignatureAlgorithms(), "the server");
            }
        };
    }

    /** rpc.tlsclntd's checks of the server's certificate: there must be one; with -l/-p it must verify and name the server. */
    private void check(Certificate certificate) throws IOException {
        if (certificate == null || certificate.isEmpty()) {
            throw refuse(AlertDescription.certificate_required, "no certificate: the server presented none");
        }
        List<X509CertificateHolder> holders = TlsSides.holders(certificate);
        serverChain = holders;
        if (trust == null) {
            return;
        }
        X509CertificateHolder leaf = holders.get(0);
        TrustMaterial.Verification v = trust.verify(holders);
        verification = v;
        if (!v.verified()) {
            LOG.fine(() -> "rpctls_connect: server " + serverName + " issuerName=" + Dn.oneline(leaf.getIssuer()) + " subjectName="
                    + Dn.oneline(leaf.getSubject()) + " verify failed " + v.reason());
            Instant[] validity = ServerCredentials.validity(leaf);
            Instant now = Instant.now();
            if (now.isAfter(validity[1])) {
                throw refuse(AlertDescription.certificate_expired, "certificate expired on " + validity[1]
                        + " (subject " + Dn.oneline(leaf.getSubject()) + ")");
            }
            if (now.isBefore(validity[0])) {
                throw refuse(AlertDescription.bad_certificate, "certificate not valid before " + validity[0]
                        + " (subject " + Dn.oneline(leaf.getSubject()) + "; is this host's clock right?)");
            }
            throw refuse(v.selfSigned() ? AlertDescription.unknown_ca : AlertDescription.bad_certificate,
                    "certificate not verified: " + inWords(v, leaf));
        }
        ServerIdentity.mismatch(leaf, serverName).or(() -> ServerIdentity.notForServers(leaf)).ifPresent(m -> refusal = m);
        if (refusal != null) {
            throw new TlsFatalAlert(AlertDescription.bad_certificate, refusal);
        }
    }

    private TlsFatalAlert refuse(short alertDescription, String why) {
        refusal = why;
        return new TlsFatalAlert(alertDescription, why);
    }

    /** A chain that did not verify, in OpenSSL's words where it has them (an administrator searches for those). */
    private static String inWords(TrustMaterial.Verification v, X509CertificateHolder leaf) {
        String r = v.reason() == null ? "no reason given" : v.reason();
        String issuer = "issuer " + Dn.oneline(leaf.getIssuer());
        if (v.selfSigned()) {
            return r + ", not trusted here (" + issuer + ")";
        }
        if (TlsSides.noPathToCa(r)) {
            return "unable to get local issuer certificate (" + issuer + "; no CA of --verifylocs/--verifydir signed it)";
        }
        return r + " (" + issuer + ")";
    }

    @Override
    public void notifyHandshakeComplete() throws IOException {
        super.notifyHandshakeComplete();
        complete = true;
    }

    @Override
    public void notifyAlertRaised(short alertLevel, short alertDescription, String message, Throwable cause) {
        if (alertLevel == AlertLevel.fatal && alert == null) {
            alert = TlsSides.alertSent(alertDescription, message, cause) + meaning(alertDescription, true);
        }
    }

    @Override
    public void notifyAlertReceived(short alertLevel, short alertDescription) {
        if (alertLevel == AlertLevel.fatal) {
            alert = "TLS alert from the server: " + AlertDescription.getText(alertDescription) + meaning(alertDescription, false);
        }
    }

    /** What an alert means for the administrator of the client, or "" when its name says it already. */
    static String meaning(short description, boolean sent) {
        if (sent) {
            switch (description) {
                case AlertDescription.protocol_version:
                    return ": the server chose a TLS version not allowed here (1.3; 1.2 only, with -2)";
                case AlertDescription.handshake_failure:
                case AlertDescription.insufficient_security:
                    return ": no cipher suite, group or signature algorithm in common with the server";
                case AlertDescription.decode_error:
                case AlertDescription.unexpected_message:
                case AlertDescription.illegal_parameter:
                case AlertDescription.record_overflow:
                    return ": the server sent what TLS does not allow (not a TLS server, or a broken one)";
                default:
                    return "";
            }
        }
        switch (description) {
            case AlertDescription.protocol_version:
                return ": the server does not serve the TLS version offered (1.3; 1.2 only, with -2)";
            case AlertDescription.handshake_failure:
            case AlertDescription.insufficient_security:
                return ": no cipher suite, group or signature algorithm in common with the server (-C)";
            case AlertDescription.no_application_protocol:
                return ": the server refuses ALPN sunrpc";
            case AlertDescription.bad_certificate:
            case AlertDescription.unknown_ca:
            case AlertDescription.certificate_unknown:
            case AlertDescription.certificate_required:
            case AlertDescription.access_denied:
                return ": the server does not accept this client's certificate, or wants one (-m)";
            case AlertDescription.certificate_expired:
                return ": the server says this client's certificate has expired";
            default:
                return "";
        }
    }
}
