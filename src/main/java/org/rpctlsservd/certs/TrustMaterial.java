package org.rpctlsservd.certs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertStore;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;

/**
 * What client certificates are checked against: CA certificates from {@code -l} (a PEM file) and
 * {@code -p} (an OpenSSL-style hashed directory), and, with {@code -r}, the CRLs that every
 * certificate of the chain is checked against. Immutable; a reload makes a new one, so a CRL entry
 * removed from the file stops counting (the C daemon only ever added).
 */
public final class TrustMaterial {
    private static final Pattern HASHED = Pattern.compile("[0-9a-f]{8}\\.[0-9]+");
    private static final JcaX509CertificateConverter CERTS = new JcaX509CertificateConverter();
    private static final JcaX509CRLConverter CRLS = new JcaX509CRLConverter();

    private final List<X509CertificateHolder> caFileCerts;
    private final Set<TrustAnchor> anchors;
    private final List<X509CertificateHolder> anchorHolders;
    private final List<X509CRLHolder> crls;
    private final boolean crlCheck;
    /** Checked after a chain verifies: who of the verified may use the service. */
    private final AllowList allow;

    /**
     * The outcome of checking one client chain. {@code notAllowed}: the chain verified but the
     * allow-list refused its leaf ({@code reason} says why); it too ends without the VERIFIED flag,
     * and this is how whoever refuses the client's calls later tells the administrator which it was.
     */
    public record Verification(boolean verified, boolean selfSigned, String reason, boolean notAllowed) {
        public Verification(boolean verified, boolean selfSigned, String reason) {
            this(verified, selfSigned, reason, false);
        }
    }

    private TrustMaterial(List<X509CertificateHolder> caFileCerts, List<X509CertificateHolder> anchorHolders,
            List<X509CRLHolder> crls, boolean crlCheck, AllowList allow) throws IOException {
        this.allow = allow;
        this.caFileCerts = List.copyOf(caFileCerts);
        this.anchorHolders = List.copyOf(anchorHolders);
        this.crls = List.copyOf(crls);
        this.crlCheck = crlCheck;
        Set<TrustAnchor> a = new HashSet<>();
        for (X509CertificateHolder h : anchorHolders) {
            a.add(new TrustAnchor(jca(h), null));
        }
        this.anchors = a;
    }

    /** Loads the CA file and/or directory and the CRL file (any may be null). */
    public static TrustMaterial load(String caFile, String caPath, String crlFile) throws IOException {
        List<X509CertificateHolder> fromFile = new ArrayList<>();
        List<X509CertificateHolder> all = new ArrayList<>();
        if (caFile != null) {
            fromFile.addAll(Pem.certificates(Path.of(caFile), "--verifylocs"));
            all.addAll(fromFile);
        }
        if (caPath != null) {
            all.addAll(hashedCertificates(Path.of(caPath)));
        }
        List<X509CRLHolder> crls = crlFile == null ? List.of() : loadCrls(crlFile);
        return new TrustMaterial(fromFile, all, crls, crlFile != null, AllowList.ANYONE);
    }

    /** The certificates of the hashed names (openssl rehash's {@code 1a2b3c4d.0}) in {@code dir}, --verifydir. */
    private static List<X509CertificateHolder> hashedCertificates(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            throw new FileProblem(dir, "--verifydir", "missing");
        }
        if (!Files.isDirectory(dir)) {
            throw new FileProblem(dir, "--verifydir", "not a directory");
        }
        List<X509CertificateHolder> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (HASHED.matcher(p.getFileName().toString()).matches() && !Files.isDirectory(p)) {
                    out.addAll(Pem.certificates(p, "--verifydir"));
                }
            }
        } catch (java.nio.file.AccessDeniedException e) {
            throw FileProblem.unreadable(dir, "--verifydir", e);
        }
        return out;
    }

    private static List<X509CRLHolder> loadCrls(String crlFile) throws IOException {
        return Pem.crls(Path.of(crlFile), "--crl");
    }

    /** The same anchors with the CRLs of {@code crlFile} instead of the current ones. */
    public TrustMaterial withCrls(String crlFile) throws IOException {
        return new TrustMaterial(caFileCerts, anchorHolders, loadCrls(crlFile), true, allow);
    }

    /** The same anchors and CRLs with {@code a} as the allow-list. */
    public TrustMaterial withAllowList(AllowList a) {
        try {
            return new TrustMaterial(caFileCerts, anchorHolders, crls, crlCheck, a);
        } catch (IOException e) {
            throw new IllegalStateException("these anchors were parsed before", e);
        }
    }

    public AllowList allowList() {
        return allow;
    }

    /** Names sent in the CertificateRequest: those of the -l file's certificates (none with -p alone). */
    public List<X500Name> caNames() {
        List<X500Name> out = new ArrayList<>();
        for (X509CertificateHolder h : caFileCerts) {
            out.add(h.getSubject());
        }
        return out;
    }

    /** Checks a client's chain (leaf first) now. */
    public Verification verify(List<X509CertificateHolder> chain) {
        if (chain.isEmpty()) {
            return new Verification(false, false, "no certificate");
        }
        try {
            List<Object> store = new ArrayList<>();
            for (X509CertificateHolder h : chain) {
                store.add(jca(h));
            }
            for (X509CRLHolder c : crls) {
                store.add(CRLS.getCRL(c));
            }
            X509CertSelector target = new X509CertSelector();
            target.setCertificate((X509Certificate) store.get(0));
            if (anchors.isEmpty()) {
                return failed(chain, "unable to get local issuer certificate");
            }
            PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, target);
            params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters((Collection<?>) store)));
            params.setRevocationEnabled(crlCheck);
            params.setDate(new Date());
            CertPathBuilder.getInstance("PKIX").build(params);
            java.util.Optional<String> refused = allow.refusal(chain.get(0));
            if (refused.isPresent()) {
                return new Verification(false, false, refused.get(), true); // as if it had not verified: no VERIFIED flag
            }
            return new Verification(true, false, null);
        } catch (CertPathBuilderException e) {
            return failed(chain, reason(e));
        } catch (GeneralSecurityException | IOException e) {
            return failed(chain, e.getMessage());
        }
    }

    private static String reason(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() != null ? t.getMessage() : e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    /** A failed chain: OpenSSL's errors 18 and 19 when it ends in a self-signed certificate not trusted here. */
    private Verification failed(List<X509CertificateHolder> chain, String reason) {
        X509CertificateHolder top = chain.get(chain.size() - 1);
        if (selfSigned(top) && !anchorHolders.contains(top)) {
            return new Verification(false, true,
                    chain.size() == 1 ? "self-signed certificate" : "self-signed certificate in certificate chain");
        }
        return new Verification(false, false, reason);
    }

    static boolean selfSigned(X509CertificateHolder c) {
        if (!c.getSubject().equals(c.getIssuer())) {
            return false;
        }
        try {
            return c.isSignatureValid(new JcaContentVerifierProviderBuilder().build(c));
        } catch (Exception e) {
            return false;
        }
    }

    /** The earliest nextUpdate of the CRLs (when the first of them goes stale), if any CRL has one. */
    public java.util.Optional<java.util.Date> crlNextUpdate() {
        return crls.stream().map(X509CRLHolder::getNextUpdate).filter(java.util.Objects::nonNull).min(java.util.Date::compareTo);
    }

    /** True when a CRL of this material lists {@code cert} (issuer name and serial). */
    public boolean revoked(X509CertificateHolder cert) {
        for (X509CRLHolder crl : crls) {
            if (crl.getIssuer().equals(cert.getIssuer()) && crl.getRevokedCertificate(cert.getSerialNumber()) != null) {
                return true;
            }
        }
        return false;
    }

    private static X509Certificate jca(X509CertificateHolder h) throws IOException {
        try {
            return CERTS.getCertificate(h);
        } catch (java.security.cert.CertificateException e) {
            throw new IOException("bad certificate " + Dn.oneline(h.getSubject()) + ": " + e.getMessage(), e);
        }
    }
}
