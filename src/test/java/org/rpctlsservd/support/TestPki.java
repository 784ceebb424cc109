package org.rpctlsservd.support;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.DERIA5String;
import org.bouncycastle.asn1.DERPrintableString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERTaggedObject;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.rpctlsservd.certs.CertUser;

/** A test PKI made with Bouncy Castle at test time: CAs, server and client certificates, CRLs. */
public final class TestPki {
    private static final AtomicLong SERIAL = new AtomicLong(1000);

    /** A certificate with its key and the chain a client would present (leaf first). */
    public record Issued(X509CertificateHolder cert, KeyPair keys, List<X509CertificateHolder> chain) {
        public X509Certificate[] jcaChain() {
            JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
            X509Certificate[] out = new X509Certificate[chain.size()];
            try {
                for (int i = 0; i < out.length; i++) {
                    out[i] = conv.getCertificate(chain.get(i));
                }
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
            return out;
        }

        public PrivateKey privateKey() {
            return keys.getPrivate();
        }
    }

    /** A certificate authority that issues leaves and CRLs. */
    public static final class Ca {
        public final Issued self;
        private final List<BigInteger> revoked = new ArrayList<>();

        Ca(Issued self) {
            this.self = self;
        }

        public X509CertificateHolder cert() {
            return self.cert();
        }

        public Builder leaf(String cn) {
            return new Builder(this, cn);
        }

        public void revoke(BigInteger serial) {
            revoked.add(serial);
        }

        public void unrevoke(BigInteger serial) {
            revoked.remove(serial);
        }

        public X509CRLHolder crl() {
            Instant now = Instant.now();
            X509v2CRLBuilder b = new X509v2CRLBuilder(self.cert().getSubject(), Date.from(now.minusSeconds(60)));
            b.setNextUpdate(Date.from(now.plus(Duration.ofDays(1))));
            for (BigInteger s : revoked) {
                b.addCRLEntry(s, Date.from(now.minusSeconds(30)), CRLReason.keyCompromise);
            }
            return b.build(signer(self.keys().getPrivate()));
        }
    }

    /** Builds one leaf certificate. */
    public static final class Builder {
        private final Ca ca;
        private final String cn;
        private final List<GeneralName> sans = new ArrayList<>();
        private final List<org.bouncycastle.asn1.x509.KeyPurposeId> ekus = new ArrayList<>();
        private boolean rsa;

        Builder(Ca ca, String cn) {
            this.ca = ca;
            this.cn = cn;
        }

        public Builder dns(String name) {
            sans.add(new GeneralName(GeneralName.dNSName, name));
            return this;
        }

        public Builder rsa() {
            rsa = true;
            return this;
        }

        public Builder uri(String uri) {
            sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
            return this;
        }

        /** An extended key usage, by OID (1.3.6.1.5.5.7.3.33 is id-kp-rpcTLSClient). */
        public Builder eku(String oid) {
            ekus.add(org.bouncycastle.asn1.x509.KeyPurposeId.getInstance(new org.bouncycastle.asn1.ASN1ObjectIdentifier(oid)));
            return this;
        }

        /** An otherName with the RPC-over-TLS user OID and a UTF8String value. */
        public Builder user(String value) {
            return otherName(CertUser.OTHERNAME_OID.getId(), new DERUTF8String(value));
        }

        public Builder otherName(String oid, ASN1Encodable value) {
            sans.add(new GeneralName(GeneralName.otherName, new DERSequence(new ASN1Encodable[] {
                new org.bouncycastle.asn1.ASN1ObjectIdentifier(oid), new DERTaggedObject(true, 0, value)})));
            return this;
        }

        public Builder printableUser(String value) {
            return otherName(CertUser.OTHERNAME_OID.getId(), new DERPrintableString(value));
        }

        public Builder ia5User(String value) {
            return otherName(CertUser.OTHERNAME_OID.getId(), new DERIA5String(value));
        }

        public Issued issue() {
            KeyPair kp = rsa ? rsaKeys() : ecKeys();
            X509CertificateHolder cert = build(new X500Name("CN=" + cn + ",O=rpc-tlsservd tests"), kp,
                    ca.self.cert().getSubject(), ca.self.keys().getPrivate(), false, sans, ekus);
            List<X509CertificateHolder> chain = List.of(cert, ca.self.cert());
            return new Issued(cert, kp, chain);
        }
    }

    public static Ca ca(String cn) {
        KeyPair kp = ecKeys();
        X500Name name = new X500Name("CN=" + cn + ",O=rpc-tlsservd tests");
        X509CertificateHolder cert = build(name, kp, name, kp.getPrivate(), true, List.of());
        return new Ca(new Issued(cert, kp, List.of(cert)));
    }

    /** A self-signed leaf (not a CA). */
    public static Issued selfSigned(String cn, String dns) {
        KeyPair kp = ecKeys();
        X500Name name = new X500Name("CN=" + cn + ",O=rpc-tlsservd tests");
        X509CertificateHolder cert = build(name, kp, name, kp.getPrivate(), false,
                List.of(new GeneralName(GeneralName.dNSName, dns)));
        return new Issued(cert, kp, List.of(cert));
    }

    static X509CertificateHolder build(X500Name subject, KeyPair kp, X500Name issuer, PrivateKey issuerKey, boolean ca,
            List<GeneralName> sans) {
        return build(subject, kp, issuer, issuerKey, ca, sans, List.of());
    }

    static X509CertificateHolder build(X500Name subject, KeyPair kp, X500Name issuer, PrivateKey issuerKey, boolean ca,
            List<GeneralName> sans, List<org.bouncycastle.asn1.x509.KeyPurposeId> ekus) {
        try {
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(365))), subject, kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (ca) {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            }
            if (!sans.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            if (!ekus.isEmpty()) {
                b.addExtension(Extension.extendedKeyUsage, false, new org.bouncycastle.asn1.x509.ExtendedKeyUsage(
                        ekus.toArray(new org.bouncycastle.asn1.x509.KeyPurposeId[0])));
            }
            return b.build(signer(issuerKey));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static ContentSigner signer(PrivateKey key) {
        try {
            String alg = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            return new JcaContentSignerBuilder(alg).build(key);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    public static KeyPair ecKeys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static KeyPair rsaKeys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** PEM text of any number of objects (certificates, CRLs, keys). */
    public static String pem(Object... objects) {
        try {
            StringWriter sw = new StringWriter();
            try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
                for (Object o : objects) {
                    w.writeObject(o);
                }
            }
            return sw.toString();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes cert.pem (leaf then CA) and certkey.pem (PKCS#8) into {@code dir}. */
    public static void writeServer(Path dir, Issued server) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("cert.pem"), pem(server.chain().toArray()));
        Files.writeString(dir.resolve("certkey.pem"), pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(
                server.privateKey(), null)));
    }
}
