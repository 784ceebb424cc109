package org.rpctlsservd.certs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.X509CertificateHolder;

/**
 * Which verified client certificates may use the service, checked after the chain verifies:
 * {@code --allow-subject} (the leaf's RFC 2253 subject, exactly or by a glob), {@code --allow-san}
 * (a DNS or URI subjectAltName, by a glob; DNS names without regard to case), and
 * {@code --require-eku} (the extended key usage id-kp-rpcTLSClient of RFC 9289 section 7.3). With
 * subjects or names listed, a certificate must match one of them; with none listed, any subject
 * passes. Pure: it looks at the certificate only.
 */
public final class AllowList {
    /** RFC 9289 section 7.3: id-kp-rpcTLSClient. */
    public static final KeyPurposeId RPC_TLS_CLIENT = KeyPurposeId.getInstance(
            new org.bouncycastle.asn1.ASN1ObjectIdentifier("1.3.6.1.5.5.7.3.33"));
    public static final AllowList ANYONE = new AllowList(List.of(), List.of(), false);

    private final List<String> subjects;
    private final List<String> sans;
    private final List<Pattern> subjectPatterns = new ArrayList<>();
    private final List<Pattern> sanPatterns = new ArrayList<>();
    private final boolean requireEku;

    public AllowList(List<String> subjects, List<String> sans, boolean requireEku) {
        this.subjects = List.copyOf(subjects);
        this.sans = List.copyOf(sans);
        this.requireEku = requireEku;
        for (String s : this.subjects) {
            subjectPatterns.add(glob(s, false));
        }
        for (String s : this.sans) {
            sanPatterns.add(glob(s, true));
        }
    }

    /** True when it lets fewer than all verified certificates through. */
    public boolean restricts() {
        return requireEku || !subjects.isEmpty() || !sans.isEmpty();
    }

    /** Why {@code leaf} (of a verified chain) is not allowed; empty when it is. */
    public Optional<String> refusal(X509CertificateHolder leaf) {
        if (requireEku && !hasRpcTlsClientUsage(leaf)) {
            return Optional.of("not allowed: no extended key usage id-kp-rpcTLSClient (--require-eku)");
        }
        if (subjects.isEmpty() && sans.isEmpty()) {
            return Optional.empty();
        }
        String subject = rfc2253(leaf);
        for (Pattern p : subjectPatterns) {
            if (p.matcher(subject).matches()) {
                return Optional.empty();
            }
        }
        List<String> names = dnsAndUriNames(leaf);
        for (String name : names) {
            for (Pattern p : sanPatterns) {
                if (p.matcher(name).matches()) {
                    return Optional.empty();
                }
            }
        }
        return Optional.of("not allowed: subject \"" + subject + "\"" + (names.isEmpty() ? "" : " and names " + names)
                + " match no --allow-subject or --allow-san");
    }

    /** The subject as RFC 2253 writes it (most specific first: "CN=client,O=Example"). */
    public static String rfc2253(X509CertificateHolder c) {
        try {
            return new X500Principal(c.getSubject().getEncoded()).getName(X500Principal.RFC2253);
        } catch (IOException | IllegalArgumentException e) {
            return Dn.oneline(c.getSubject());
        }
    }

    static boolean hasRpcTlsClientUsage(X509CertificateHolder c) {
        Extension e = c.getExtension(Extension.extendedKeyUsage);
        if (e == null) {
            return false;
        }
        return ExtendedKeyUsage.getInstance(e.getParsedValue()).hasKeyPurposeId(RPC_TLS_CLIENT);
    }

    /** The DNS names (lower-cased) and URIs among the subjectAltNames. */
    static List<String> dnsAndUriNames(X509CertificateHolder c) {
        List<String> out = new ArrayList<>();
        Extension e = c.getExtension(Extension.subjectAlternativeName);
        if (e == null) {
            return out;
        }
        for (GeneralName n : GeneralNames.getInstance(e.getParsedValue()).getNames()) {
            if (n.getTagNo() == GeneralName.dNSName) {
                out.add(((ASN1String) n.getName()).getString().toLowerCase(Locale.ROOT));
            } else if (n.getTagNo() == GeneralName.uniformResourceIdentifier) {
                out.add(((ASN1String) n.getName()).getString());
            }
        }
        return out;
    }

    /** A glob as a pattern: {@code *} any run of characters, {@code ?} one; all else literal. */
    static Pattern glob(String glob, boolean dnsCaseless) {
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char ch : glob.toCharArray()) {
            if (ch == '*' || ch == '?') {
                if (literal.length() > 0) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(ch == '*' ? ".*" : ".");
            } else {
                literal.append(ch);
            }
        }
        if (literal.length() > 0) {
            re.append(Pattern.quote(literal.toString()));
        }
        // DNS names compare without regard to case; a URI's case matters beyond its host, so it is kept.
        return Pattern.compile(re.toString(), dnsCaseless && !glob.contains(":") ? Pattern.CASE_INSENSITIVE | Pattern.DOTALL
                : Pattern.DOTALL);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AllowList a && a.subjects.equals(subjects) && a.sans.equals(sans) && a.requireEku == requireEku;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(subjects, sans, requireEku);
    }

    @Override
    public String toString() {
        return "subjects " + subjects + ", names " + sans + (requireEku ? ", id-kp-rpcTLSClient required" : "");
    }
}
