package org.rpctlsservd.certs;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
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

    /**
     * Every object in a PEM file, in order. A file that cannot be read, holds no PEM block, or
     * has a block cut short or damaged is a {@link FileProblem} naming {@code option}.
     */
    static List<Object> objects(Path file, String option) throws FileProblem {
        byte[] bytes = FileProblem.read(file, option);
        // ISO-8859-1 maps every byte: a DER file reaches the check below instead of a decoding error.
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        if (!text.contains("-----BEGIN ")) {
            throw new FileProblem(file, option, "not PEM (no -----BEGIN line)"
                    + ((bytes[0] & 0xff) == 0x30 ? "; it looks like DER: convert it with openssl x509 -inform der (or openssl pkey -inform der)" : ""));
        }
        List<Object> out = new ArrayList<>();
        try (Reader r = new StringReader(text); PEMParser p = new PEMParser(r)) {
            Object o;
            while ((o = p.readObject()) != null) {
                out.add(o);
            }
        } catch (IOException | RuntimeException e) {
            // bcpkix: "-----END ... not found" for a block cut short, a decoding error for damaged base64 or DER
            throw new FileProblem(file, option, "truncated or damaged PEM (" + e.getMessage() + ")", e);
        }
        return out;
    }

    /** What the file holds, for saying what it does not: "a private key", "2 certificates". */
    static String holds(List<Object> objects) {
        if (objects.isEmpty()) {
            return "nothing this daemon reads";
        }
        java.util.Map<String, Integer> kinds = new java.util.LinkedHashMap<>();
        for (Object o : objects) {
            String kind = o instanceof X509CertificateHolder ? "certificate"
                    : o instanceof X509CRLHolder ? "CRL"
                    : o instanceof PrivateKeyInfo || o instanceof PEMKeyPair || o instanceof PEMEncryptedKeyPair
                            || o instanceof PKCS8EncryptedPrivateKeyInfo ? "private key"
                    : o instanceof SubjectPublicKeyInfo ? "public key" : o.getClass().getSimpleName();
            kinds.merge(kind, 1, Integer::sum);
        }
        List<String> parts = new ArrayList<>();
        kinds.forEach((k, n) -> parts.add(n == 1 ? "a " + k : n + " " + k + "s"));
        return String.join(", ", parts);
    }

    /** The certificates of {@code file}, at least one. */
    public static List<X509CertificateHolder> certificates(Path file, String option) throws FileProblem {
        return only(X509CertificateHolder.class, "certificate", file, option);
    }

    /** The CRLs of {@code file}, at least one. */
    public static List<X509CRLHolder> crls(Path file, String option) throws FileProblem {
        return only(X509CRLHolder.class, "CRL", file, option);
    }

    /** The objects of {@code type} in {@code file}, at least one ({@code what}: its name in the refusal). */
    private static <T> List<T> only(Class<T> type, String what, Path file, String option) throws FileProblem {
        List<Object> all = objects(file, option);
        List<T> out = new ArrayList<>();
        for (Object o : all) {
            if (type.isInstance(o)) {
                out.add(type.cast(o));
            }
        }
        if (out.isEmpty()) {
            throw new FileProblem(file, option, "no " + what + " in it (it holds " + holds(all) + ")");
        }
        return out;
    }

    /** The first private key in the file, in any of the usual PEM forms; encrypted keys are refused. */
    public static PrivateKeyInfo privateKey(Path file, String option) throws FileProblem {
        return privateKey(file, option, null);
    }

    /**
     * The private key of {@code file}; an encrypted one (PKCS#8 "ENCRYPTED PRIVATE KEY", or
     * OpenSSL's traditional "Proc-Type: 4,ENCRYPTED") is decrypted with {@code passphrase}.
     */
    public static PrivateKeyInfo privateKey(Path file, String option, char[] passphrase) throws FileProblem {
        List<Object> all = objects(file, option);
        for (Object o : all) {
            if (passphrase != null && o instanceof PKCS8EncryptedPrivateKeyInfo) {
                try {
                    return ((PKCS8EncryptedPrivateKeyInfo) o).decryptPrivateKeyInfo(
                            new org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder()
                                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).build(passphrase));
                } catch (org.bouncycastle.operator.OperatorCreationException | org.bouncycastle.pkcs.PKCSException e) {
                    throw new FileProblem(file, option, "cannot decrypt the private key (wrong passphrase in --key-passphrase-file?)", e);
                }
            }
            if (passphrase != null && o instanceof PEMEncryptedKeyPair) {
                try {
                    return ((PEMEncryptedKeyPair) o).decryptKeyPair(
                            new org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder()
                                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).build(passphrase)).getPrivateKeyInfo();
                } catch (IOException | RuntimeException e) {
                    throw new FileProblem(file, option, "cannot decrypt the private key (wrong passphrase in --key-passphrase-file?)", e);
                }
            }
            if (o instanceof PrivateKeyInfo) {
                return (PrivateKeyInfo) o;
            }
            if (o instanceof PEMKeyPair) {
                return ((PEMKeyPair) o).getPrivateKeyInfo();
            }
            if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                throw new FileProblem(file, option, "the private key is encrypted and no --key-passphrase-file gives its passphrase");
            }
            if (o instanceof SubjectPublicKeyInfo) {
                continue;
            }
        }
        throw new FileProblem(file, option, "no private key in it (it holds " + holds(all) + ")");
    }
}
