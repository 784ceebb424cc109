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
        for (Object o : objects(file)) {
            if (o instanceof PrivateKeyInfo) {
                return (PrivateKeyInfo) o;
            }
            if (o instanceof PEMKeyPair) {
                return ((PEMKeyPair) o).getPrivateKeyInfo();
            }
            if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                throw new IOException(file + ": the private key is encrypted; an unencrypted key is needed");
            }
            if (o instanceof SubjectPublicKeyInfo) {
                continue;
            }
        }
        throw new IOException(file + ": no private key found");
    }
}
