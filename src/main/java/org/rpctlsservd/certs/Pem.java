package org.rpctlsservd.certs;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/** PEM files through bcpkix: certificates, CRLs and private keys (PKCS#8, PKCS#1, SEC1). */
public final class Pem {
    private Pem() {
    }

    /** Every object in a PEM file, in order. */
    static List<Object> objects(Path file) throws IOException {
        List<Object> out = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            Object o;
            while ((o = p.readObject()) != null) {
                out.add(o);
            }
        }
        return out;
    }

    public static List<X509CertificateHolder> certificates(Path file) throws IOException {
        List<X509CertificateHolder> out = new ArrayList<>();
        for (Object o : objects(file)) {
            if (o instanceof X509CertificateHolder) {
                out.add((X509CertificateHolder) o);
            }
        }
        return out;
    }

    public static List<X509CRLHolder> crls(Path file) throws IOException {
        List<X509CRLHolder> out = new ArrayList<>();
        for (Object o : objects(file)) {
            if (o instanceof X509CRLHolder) {
                out.add((X509CRLHolder) o);
            }
        }
        return out;
    }

    /** The first private key in the file, in any of the usual PEM forms; encrypted keys are refused. */
    public static PrivateKeyInfo privateKey(Path file) throws IOException {
        return privateKey(file, null);
    }

    /**
     * The private key of {@code file}; an encrypted one (PKCS#8 "ENCRYPTED PRIVATE KEY", or
     * OpenSSL's traditional "Proc-Type: 4,ENCRYPTED") is decrypted with {@code passphrase}.
     */
    public static PrivateKeyInfo privateKey(Path file, char[] passphrase) throws IOException {
        for (Object o : objects(file)) {
            if (passphrase != null && o instanceof PKCS8EncryptedPrivateKeyInfo) {
                try {
                    return ((PKCS8EncryptedPrivateKeyInfo) o).decryptPrivateKeyInfo(
                            new org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder()
                                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).build(passphrase));
                } catch (org.bouncycastle.operator.OperatorCreationException | org.bouncycastle.pkcs.PKCSException e) {
                    throw new IOException(file + ": cannot decrypt the private key (wrong passphrase?)", e);
                }
            }
            if (passphrase != null && o instanceof PEMEncryptedKeyPair) {
                try {
                    return ((PEMEncryptedKeyPair) o).decryptKeyPair(
                            new org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder()
                                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).build(passphrase)).getPrivateKeyInfo();
                } catch (IOException | RuntimeException e) {
                    throw new IOException(file + ": cannot decrypt the private key (wrong passphrase?)", e);
                }
            }
            if (o instanceof PrivateKeyInfo) {
                return (PrivateKeyInfo) o;
            }
            if (o instanceof PEMKeyPair) {
                return ((PEMKeyPair) o).getPrivateKeyInfo();
            }
            if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                throw new IOException(file + ": the private key is encrypted; give its passphrase with --key-passphrase-file");
            }
            if (o instanceof SubjectPublicKeyInfo) {
                continue;
            }
        }
        throw new IOException(file + ": no private key found");
    }
}
