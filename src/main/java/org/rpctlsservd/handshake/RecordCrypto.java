package org.rpctlsservd.handshake;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Security;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.jcajce.util.DefaultJcaJceHelper;
import org.bouncycastle.jcajce.util.JcaJceHelper;
import org.bouncycastle.jcajce.util.ProviderJcaJceHelper;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.crypto.TlsCipher;
import org.bouncycastle.tls.crypto.TlsCryptoParameters;
import org.bouncycastle.tls.crypto.impl.TlsAEADCipher;
import org.bouncycastle.tls.crypto.impl.TlsAEADCipherImpl;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCrypto;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider;
import org.bouncycastle.tls.crypto.impl.jcajce.JceAEADCipherImpl;

/**
 * Bouncy Castle's TLS crypto with the record ciphers on the JDK. Chosen by measurement
 * ({@code tools/bench-crypto}, figures in docs/measurements.md): the JDK's AES-GCM runs on the CPU's AES and
 * carry-less multiply instructions, 45-100 times Bouncy Castle's plain-Java GCM, and its
 * ChaCha20-Poly1305 is 1.7 (Java 17) to 13 (Java 25) times faster; Bouncy Castle stays for key
 * exchange and signatures, where it is 2.5-7 times faster than SunEC. Every TLS session the daemon
 * makes (the handshake, the front end's relayed records, HANDLERECORD and DISCONNECT) uses this.
 */
public final class RecordCrypto extends BcTlsCrypto {
    /**
     * The JDK's provider of both ciphers, named: asked by algorithm alone, the JDK takes the first
     * provider that has it, and a java.security that lists another first (Bouncy Castle's, say)
     * would put every record on that one's plain-Java GCM. A JDK without SunJCE (a FIPS set-up) is
     * asked by algorithm.
     */
    private static final Provider SUN_JCE = Security.getProvider("SunJCE");
    private final JcaJceHelper jdk = SUN_JCE != null ? new ProviderJcaJceHelper(SUN_JCE) : new DefaultJcaJceHelper();
    private final JcaTlsCrypto jca;
    /**
     * Each handshake's latest record cipher (its last is the application phase's), by the handshake's
     * security parameters, until {@link #tap} hands it to the session. Weak: a failed handshake's
     * entry goes with it. The values do not reach their keys, or the keys would never go.
     */
    private final Map<SecurityParameters, RecordTap.Pair> latest = Collections.synchronizedMap(new WeakHashMap<>());

    public RecordCrypto(SecureRandom random) {
        super(random);
        this.jca = new JcaTlsCryptoProvider().create(random);
    }

    @Override
    protected TlsAEADCipher createCipher_AES_GCM(TlsCryptoParameters params, int keySize, int macSize) throws IOException {
        try {
            return counted(params, gcm(keySize, true), gcm(keySize, false), keySize, macSize, TlsAEADCipher.AEAD_GCM);
        } catch (GeneralSecurityException e) {
            throw new TlsFatalAlert(AlertDescription.internal_error, e);
        }
    }

    @Override
    protected TlsCipher createChaCha20Poly1305(TlsCryptoParameters params) throws IOException {
        try {
            return counted(params, new JdkChaCha20Poly1305(true), new JdkChaCha20Poly1305(false), 32, 16,
                    TlsAEADCipher.AEAD_CHACHA20_POLY1305);
        } catch (GeneralSecurityException e) {
            throw new TlsFatalAlert(AlertDescription.internal_error, e);
        }
    }

    /**
     * Bouncy Castle's AEAD record cipher on {@code encrypt}/{@code decrypt}, each counting its
     * records, remembered for the connection's {@link #tap}. (The nonce generator stays null: TLS
     * 1.2's explicit nonce is then the sequence number, as a hand-over would continue it.)
     */
    @SuppressWarnings("deprecation")
    private TlsAEADCipher counted(TlsCryptoParameters params, TlsAEADCipherImpl encrypt, TlsAEADCipherImpl decrypt, int keySize,
            int macSize, int aeadType) throws IOException {
        SecurityParameters sp = params.getSecurityParametersHandshake();
        // TLS 1.2's keys come from a key block Bouncy Castle does not keep: its halves keep theirs for the hand-over
        boolean tls12 = sp != null && ProtocolVersion.TLSv12.equals(sp.getNegotiatedVersion());
        RecordTap.Pair pair = new RecordTap.Pair(encrypt, decrypt, tls12);
        TlsAEADCipher cipher = new TlsAEADCipher(params, pair.encrypt, pair.decrypt, keySize, macSize, aeadType);
        if (sp != null) {
            latest.put(sp, pair);
        }
        return cipher;
    }

    /**
     * The record tap of the connection whose handshake completed with {@code sp} (its connection's
     * security parameters now), once: null when its record cipher is not one of ours (a CCM suite).
     */
    RecordTap tap(SecurityParameters sp, boolean server) {
        RecordTap.Pair pair = latest.remove(sp);
        return pair == null ? null : new RecordTap(sp, this, pair, server);
    }

    private TlsAEADCipherImpl gcm(int keySize, boolean encrypt) throws GeneralSecurityException {
        return new JceAEADCipherImpl(jca, jdk, "AES/GCM/NoPadding", "AES", keySize, encrypt);
    }

    /**
     * The JDK's ChaCha20-Poly1305. Written here because Bouncy Castle's JCA-backed ChaCha20 class asks
     * for its own provider's algorithms (ChaCha7539, Poly1305), which the JDK does not have.
     */
    static final class JdkChaCha20Poly1305 implements TlsAEADCipherImpl {
        private final Cipher cipher;
        private final int mode;
        private SecretKeySpec key;
        private IvParameterSpec nonce;

        JdkChaCha20Poly1305(boolean encrypt) throws GeneralSecurityException {
            this.cipher = SUN_JCE != null ? Cipher.getInstance("ChaCha20-Poly1305", SUN_JCE) : Cipher.getInstance("ChaCha20-Poly1305");
            this.mode = encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
        }

        @Override
        public void setKey(byte[] k, int off, int len) {
            this.key = new SecretKeySpec(k, off, len, "ChaCha20");
        }

        @Override
        public void init(byte[] n, int macSize) throws IOException {
            if (macSize != 16) {
                throw new TlsFatalAlert(AlertDescription.internal_error);
            }
            this.nonce = new IvParameterSpec(n);
        }

        @Override
        public int getOutputSize(int inputLength) {
            return mode == Cipher.ENCRYPT_MODE ? inputLength + 16 : Math.max(0, inputLength - 16);
        }

        @Override
        public int doFinal(byte[] additionalData, byte[] in, int inOff, int inLen, byte[] out, int outOff)
                throws IOException {
            try {
                cipher.init(mode, key, nonce);
                if (additionalData != null && additionalData.length > 0) {
                    cipher.updateAAD(additionalData);
                }
                return cipher.doFinal(in, inOff, inLen, out, outOff);
            } catch (javax.crypto.AEADBadTagException e) {
                throw new TlsFatalAlert(AlertDescription.bad_record_mac, e);
            } catch (GeneralSecurityException e) {
                throw new TlsFatalAlert(AlertDescription.internal_error, e);
            }
        }
    }
}
