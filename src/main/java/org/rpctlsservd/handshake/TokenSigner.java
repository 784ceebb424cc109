package org.rpctlsservd.handshake;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.SignatureAndHashAlgorithm;
import org.bouncycastle.tls.SignatureScheme;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.crypto.TlsSigner;
import org.bouncycastle.tls.crypto.TlsStreamSigner;
import org.rpctlsservd.certs.TokenKey;

/**
 * Bouncy Castle's TLS signs through this with a key that stays in a PKCS#11 token: the message
 * goes to the token's JCA Signature, which hashes and signs it. The session's other crypto stays
 * on Bouncy Castle.
 */
final class TokenSigner implements TlsSigner {
    private final TokenKey.Loaded key;

    TokenSigner(TokenKey.Loaded key) {
        this.key = key;
    }

    @Override
    public byte[] generateRawSignature(SignatureAndHashAlgorithm algorithm, byte[] hash) throws IOException {
        throw new TlsFatalAlert(AlertDescription.internal_error, "a token key signs whole messages, not bare hashes");
    }

    @Override
    public TlsStreamSigner getStreamSigner(SignatureAndHashAlgorithm algorithm) throws IOException {
        Signature s;
        try {
            s = signature(SignatureScheme.from(algorithm));
            s.initSign(key.key());
        } catch (GeneralSecurityException | java.security.ProviderException e) {
            throw new TlsFatalAlert(AlertDescription.internal_error, "token signature " + SignatureScheme.getName(SignatureScheme.from(algorithm))
                    + ": " + e.getMessage(), e);
        }
        // What is signed is one handshake transcript, a few KiB: gathered, then signed in one call to the token.
        ByteArrayOutputStream message = new ByteArrayOutputStream(1024);
        return new TlsStreamSigner() {
            @Override
            public OutputStream getOutputStream() {
                return message;
            }

            @Override
            public byte[] getSignature() throws IOException {
                try {
                    s.update(message.toByteArray());
                    return s.sign();
                } catch (GeneralSecurityException | java.security.ProviderException e) {
                    throw new TlsFatalAlert(AlertDescription.internal_error, "token signature failed: " + e.getMessage(), e);
                }
            }
        };
    }

    private Signature signature(int scheme) throws GeneralSecurityException {
        switch (scheme) {
            case SignatureScheme.ecdsa_secp256r1_sha256: return Signature.getInstance("SHA256withECDSA", key.provider());
            case SignatureScheme.ecdsa_secp384r1_sha384: return Signature.getInstance("SHA384withECDSA", key.provider());
            case SignatureScheme.ecdsa_secp521r1_sha512: return Signature.getInstance("SHA512withECDSA", key.provider());
            case SignatureScheme.rsa_pkcs1_sha256: return Signature.getInstance("SHA256withRSA", key.provider());
            case SignatureScheme.rsa_pkcs1_sha384: return Signature.getInstance("SHA384withRSA", key.provider());
            case SignatureScheme.rsa_pkcs1_sha512: return Signature.getInstance("SHA512withRSA", key.provider());
            case SignatureScheme.rsa_pss_rsae_sha256: return pss("SHA-256", 32);
            case SignatureScheme.rsa_pss_rsae_sha384: return pss("SHA-384", 48);
            case SignatureScheme.rsa_pss_rsae_sha512: return pss("SHA-512", 64);
            default: throw new GeneralSecurityException("no token signature for scheme " + SignatureScheme.getName(scheme));
        }
    }

    private Signature pss(String hash, int saltLength) throws GeneralSecurityException {
        Signature s = Signature.getInstance("RSASSA-PSS", key.provider());
        s.setParameter(new PSSParameterSpec(hash, "MGF1", new MGF1ParameterSpec(hash), saltLength, 1));
        return s;
    }
}
