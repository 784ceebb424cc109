package org.rpctlsservd.handshake;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Vector;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.Certificate;
import org.bouncycastle.tls.CertificateEntry;
import org.bouncycastle.tls.DefaultTlsCredentialedSigner;
import org.bouncycastle.tls.HashAlgorithm;
import org.bouncycastle.tls.SignatureAlgorithm;
import org.bouncycastle.tls.SignatureAndHashAlgorithm;
import org.bouncycastle.tls.SignatureScheme;
import org.bouncycastle.tls.TlsContext;
import org.bouncycastle.tls.TlsCredentialedSigner;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCertificate;
import org.bouncycastle.tls.crypto.TlsCryptoParameters;
import org.bouncycastle.tls.crypto.impl.bc.BcDefaultTlsCredentialedSigner;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.rpctlsservd.certs.ServerCredentials;

/** Our certificate and its signer for a handshake, the server's (RPCTLSSD) or the client's with -m (RPCTLSCD). */
final class Signers {
    private Signers() {
    }

    /**
     * {@code chain}: the credentials' certificates, parsed for the TLS layer; {@code requestContext}:
     * the TLS 1.3 certificate_request_context (empty for the server); {@code offered}: the peer's
     * signature algorithms (null: TLS 1.2 without the extension); {@code other}: the peer in messages.
     */
    static TlsCredentialedSigner signer(TlsContext context, BcTlsCrypto crypto, ServerCredentials credentials,
            TlsCertificate[] chain, byte[] requestContext, Vector<?> offered, String other) throws IOException {
        SignatureAndHashAlgorithm alg = chooseSignature(credentials, TlsUtils.isTLSv13(context), offered, other);
        Certificate certificate;
        if (TlsUtils.isTLSv13(context)) {
            CertificateEntry[] entries = new CertificateEntry[chain.length];
            for (int i = 0; i < chain.length; i++) {
                entries[i] = new CertificateEntry(chain[i], null);
            }
            certificate = new Certificate(requestContext, entries);
        } else {
            certificate = new Certificate(chain);
        }
        if (credentials.tokenKey() != null) {
            return new DefaultTlsCredentialedSigner(new TlsCryptoParameters(context), new TokenSigner(credentials.tokenKey()),
                    certificate, alg);
        }
        return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(context), crypto, credentials.privateKey(),
                certificate, alg);
    }

    /** Parses a chain for {@link #signer}, once per credentials, not per handshake. */
    static TlsCertificate[] parse(BcTlsCrypto crypto, ServerCredentials credentials) throws IOException {
        TlsCertificate[] certs = new TlsCertificate[credentials.chain().size()];
        for (int i = 0; i < certs.length; i++) {
            certs[i] = crypto.createCertificate(credentials.chain().get(i).getEncoded());
        }
        return certs;
    }

    /** The peer's most preferred signature scheme that our key can make. */
    private static SignatureAndHashAlgorithm chooseSignature(ServerCredentials credentials, boolean tls13, Vector<?> offered,
            String other) throws IOException {
        List<Integer> usable = new ArrayList<>();
        switch (credentials.keyType()) {
            case RSA:
                usable.addAll(List.of(SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384,
                        SignatureScheme.rsa_pss_rsae_sha512));
                if (!tls13) {
                    usable.addAll(List.of(SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pkcs1_sha384,
                            SignatureScheme.rsa_pkcs1_sha512));
                }
                break;
            case EC: {
                int bits = credentials.ecBits();
                usable.add(bits <= 256 ? SignatureScheme.ecdsa_secp256r1_sha256
                        : bits <= 384 ? SignatureScheme.ecdsa_secp384r1_sha384 : SignatureScheme.ecdsa_secp521r1_sha512);
                break;
            }
            default:
                usable.add(SignatureScheme.ed25519);
        }
        if (offered == null) {
            // TLS 1.2 without signature_algorithms: RFC 5246's defaults
            return SignatureAndHashAlgorithm.getInstance(HashAlgorithm.sha1,
                    credentials.keyType() == ServerCredentials.KeyType.RSA ? SignatureAlgorithm.rsa : SignatureAlgorithm.ecdsa);
        }
        for (Object o : offered) {
            SignatureAndHashAlgorithm a = (SignatureAndHashAlgorithm) o;
            if (usable.contains(SignatureScheme.from(a))) {
                return a;
            }
        }
        throw new TlsFatalAlert(AlertDescription.handshake_failure, "no signature scheme in common with " + other);
    }
}
