package org.rpctlsservd.support;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/**
 * Server certificates for the client side's tests, which {@link TestPki}'s builder does not make:
 * subjectAltNames that are IP addresses as well as DNS names, and any validity (an expired one).
 * Issued by a {@link TestPki.Ca}, so the rest of TestPki (PEM, CAs, client leaves) applies.
 */
public final class PeerPki {
    private static final AtomicLong SERIAL = new AtomicLong(50_000);

    private PeerPki() {
    }

    /** Valid from an hour ago for a year, for {@code names}: DNS names, or IP literals (digits, dots, colons). */
    public static TestPki.Issued server(TestPki.Ca ca, String cn, String... names) {
        Instant now = Instant.now();
        return issue(ca, cn, now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(365)), names);
    }

    /** Valid for a day that ended a day ago. */
    public static TestPki.Issued expired(TestPki.Ca ca, String cn, String... names) {
        Instant now = Instant.now();
        return issue(ca, cn, now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)), names);
    }

    public static TestPki.Issued issue(TestPki.Ca ca, String cn, Instant notBefore, Instant notAfter, String... names) {
        KeyPair kp = TestPki.ecKeys();
        List<GeneralName> sans = new ArrayList<>();
        for (String n : names) {
            boolean ip = n.matches("[0-9.]+") || n.contains(":");
            sans.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n));
        }
        try {
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.cert().getSubject(),
                    BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
                    new X500Name("CN=" + cn + ",O=rpc-tlsservd tests"), kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            if (!sans.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            X509CertificateHolder cert = b.build(TestPki.signer(ca.self.keys().getPrivate()));
            return new TestPki.Issued(cert, kp, List.of(cert, ca.cert()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code dir/<name>.pem} (leaf then CA) and {@code dir/<name>key.pem} (PKCS#8), as rpc.tlsclntd's -m reads them. */
    public static void write(Path dir, String name, TestPki.Issued issued) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(name + ".pem"), TestPki.pem(issued.chain().toArray()));
        Files.writeString(dir.resolve(name + "key.pem"), TestPki.pem(new JcaPKCS8Generator(issued.privateKey(), null)));
    }

    /** {@code file} holding the CA's certificate in PEM. */
    public static Path writeCa(Path file, TestPki.Ca ca) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.writeString(file, TestPki.pem(ca.cert()));
    }
}
