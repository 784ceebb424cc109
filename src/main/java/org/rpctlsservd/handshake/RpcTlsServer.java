package org.rpctlsservd.handshake;

import java.io.IOException;
import java.util.Hashtable;
import java.util.List;
import java.util.Vector;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.AlertLevel;
import org.bouncycastle.tls.Certificate;
import org.bouncycastle.tls.CertificateRequest;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.ClientCertificateType;
import org.bouncycastle.tls.DefaultTlsServer;
import org.bouncycastle.tls.ProtocolName;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCertificate;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.rpctlsservd.certs.ServerCredentials;

/**
 * Bouncy Castle's server side of one handshake, set up as rpc.tlsservd's SSL_CTX: TLS 1.3 (and
 * 1.2 with -2), the -C suites, the server's credentials, a client certificate requested (never
 * required) with -m, ALPN "sunrpc" echoed when offered (or required), no session tickets.
 */
final class RpcTlsServer extends DefaultTlsServer {
    private static final int[] TLS12_ECDSA = {
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    };
    private static final int[] TLS12_RSA = {
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    };

    private final BcTlsCrypto crypto;
    private final ServerCredentials credentials;
    private final TlsCertificate[] chain;
    private final TlsPolicy policy;
    private final List<X500Name> caNames;
    private volatile List<X509CertificateHolder> clientChain = List.of();
    private volatile boolean complete;
    private volatile String alert;

    /** {@code chain}: the credentials' certificates, parsed once per credentials, not per handshake. */
    RpcTlsServer(BcTlsCrypto crypto, ServerCredentials credentials, TlsCertificate[] chain, TlsPolicy policy, List<X500Name> caNames) {
        super(crypto);
        this.crypto = crypto;
        this.credentials = credentials;
        this.chain = chain;
        this.policy = policy;
        this.caNames = caNames;
    }

    List<X509CertificateHolder> clientChain() {
        return clientChain;
    }

    boolean complete() {
        return complete;
    }

    /** The last alert raised or received, for the audit line. */
    String alert() {
        return alert;
    }

    ServerCredentials credentials() {
        return credentials;
    }

    /** The negotiated parameters (the connection's once the handshake is done), or null before any. */
    org.bouncycastle.tls.SecurityParameters securityParameters() {
        return TlsSides.securityParameters(context);
    }

    @Override
    protected ProtocolVersion[] getSupportedVersions() {
        return policy.allowTls12() ? ProtocolVersion.TLSv13.downTo(ProtocolVersion.TLSv12) : ProtocolVersion.TLSv13.only();
    }

    @Override
    protected int[] getSupportedCipherSuites() {
        int[] tls12 = !policy.allowTls12() ? new int[0]
                : credentials.keyType() == ServerCredentials.KeyType.RSA ? TLS12_RSA : TLS12_ECDSA;
        int[] all = new int[policy.tls13Suites().length + tls12.length];
        System.arraycopy(policy.tls13Suites(), 0, all, 0, policy.tls13Suites().length);
        System.arraycopy(tls12, 0, all, policy.tls13Suites().length, tls12.length);
        return TlsUtils.getSupportedCipherSuites(getCrypto(), all);
    }

    @Override
    protected boolean preferLocalCipherSuites() {
        return true;
    }

    /** --groups, hybrids first by default. */
    @Override
    public int[] getSupportedGroups() {
        return policy.groups();
    }

    /**
     * The server's order, not the client's: a client that supports a hybrid group but sent only an
     * x25519 key share gets a HelloRetryRequest for the hybrid. One round trip more, once per
     * connection, is cheap for a mount that lives for days, and buys protection of its records
     * against decryption later by a quantum computer ("harvest now, decrypt later").
     */
    @Override
    public boolean preferLocalSupportedGroups() {
        return true;
    }

    @Override
    protected Vector<ProtocolName> getProtocolNames() {
        return TlsSides.sunrpc();
    }

    @Override
    @SuppressWarnings("rawtypes")
    public void processClientExtensions(Hashtable clientExtensions) throws IOException {
        super.processClientExtensions(clientExtensions);
        if (policy.alpnRequired() && (clientProtocolNames == null || !clientProtocolNames.contains(TlsSides.SUNRPC))) {
            throw new TlsFatalAlert(AlertDescription.no_application_protocol, "ALPN sunrpc is required");
        }
    }

    @Override
    public TlsCredentials getCredentials() throws IOException {
        return Signers.signer(context, crypto, credentials, chain, TlsUtils.EMPTY_BYTES,
                context.getSecurityParametersHandshake().getClientSigAlgs(), "the client");
    }

    @Override
    public CertificateRequest getCertificateRequest() throws IOException {
        if (!policy.requestClientCert()) {
            return null;
        }
        Vector<?> sigAlgs = TlsUtils.getDefaultSupportedSignatureAlgorithms(context);
        Vector<X500Name> authorities = caNames.isEmpty() ? null : new Vector<>(caNames);
        if (TlsUtils.isTLSv13(context)) {
            return new CertificateRequest(TlsUtils.EMPTY_BYTES, sigAlgs, null, authorities);
        }
        short[] types = {ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign};
        return new CertificateRequest(types, sigAlgs, authorities);
    }

    /** The longest client chain taken, as OpenSSL's default verify depth allows. */
    static final int MAX_CLIENT_CHAIN = 10;

    /**
     * Bouncy Castle refuses a chain over its limit with internal_error while parsing; parsing is
     * left to the handshake message size cap (32 KiB) and the length is judged below, with the
     * alert the peer should see.
     */
    @Override
    public int getMaxCertificateChainLength() {
        return 1024;
    }

    @Override
    public void notifyClientCertificate(Certificate clientCertificate) throws IOException {
        if (clientCertificate != null && clientCertificate.getLength() > MAX_CLIENT_CHAIN) {
            throw new TlsFatalAlert(AlertDescription.bad_certificate, "a client chain of " + clientCertificate.getLength()
                    + " certificates, more than " + MAX_CLIENT_CHAIN);
        }
        // Otherwise record only: a missing or bad client certificate never fails the handshake.
        clientChain = TlsSides.holders(clientCertificate);
    }

    @Override
    public void notifyHandshakeComplete() throws IOException {
        super.notifyHandshakeComplete();
        complete = true;
    }

    @Override
    public void notifyAlertRaised(short alertLevel, short alertDescription, String message, Throwable cause) {
        if (alertLevel == AlertLevel.fatal) {
            alert = TlsSides.alertSent(alertDescription, message, cause) + meaning(alertDescription, true);
        }
    }

    /** What an alert means for the administrator, or "" when its name and reason say it already. */
    static String meaning(short description, boolean sent) {
        if (sent) {
            switch (description) {
                case AlertDescription.protocol_version:
                    return ": the client offers no TLS version served here (1.3; 1.2 too with -2)";
                case AlertDescription.handshake_failure:
                case AlertDescription.insufficient_security:
                    return ": no cipher suite, group or signature algorithm in common with the client";
                case AlertDescription.decode_error:
                case AlertDescription.unexpected_message:
                case AlertDescription.illegal_parameter:
                    return ": the client sent what TLS does not allow (not a TLS client, or a broken one)";
                default:
                    return "";
            }
        }
        switch (description) {
            case AlertDescription.bad_certificate:
            case AlertDescription.unknown_ca:
            case AlertDescription.certificate_unknown:
                return ": the client does not accept the daemon's certificate (its CA, or the name the client used)";
            case AlertDescription.certificate_expired:
                return ": the client says the daemon's certificate has expired";
            default:
                return "";
        }
    }

    @Override
    public void notifyAlertReceived(short alertLevel, short alertDescription) {
        if (alertLevel == AlertLevel.fatal) {
            alert = "received " + AlertDescription.getText(alertDescription) + meaning(alertDescription, false);
        }
    }
}
