package org.rpctlsservd.certs;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.util.IPAddress;

/**
 * Does a server's certificate name the server the client meant (RFC 9289 section 5.2.1, RFC 6125
 * section 6): a DNS name against the dNSName subjectAltNames, compared without regard to case, an
 * IP literal against the iPAddress ones, byte for byte. No wildcards (rpc.tlsclntd checks with
 * X509_CHECK_FLAG_NO_WILDCARDS) and no subject CN (RFC 9525 retired it; a certificate for RPC
 * over TLS has subjectAltNames). Written by hand: a few lines of comparisons no library keeps apart
 * from a whole trust manager.
 */
public final class ServerIdentity {
    private ServerIdentity() {
    }

    /** True when {@code name} is an IPv4 or IPv6 literal (IPv6 with or without brackets), not a DNS name. */
    public static boolean isIpLiteral(String name) {
        String n = unbracket(name);
        return IPAddress.isValidIPv4(n) || IPAddress.isValidIPv6(n);
    }

    /**
     * Empty when {@code leaf} names {@code serverName}; otherwise the refusal in words:
     * "certificate does not match nfs.example.org (it names DNS:other.example.org, IP:192.0.2.1)".
     */
    public static Optional<String> mismatch(X509CertificateHolder leaf, String serverName) {
        List<GeneralName> sans = subjectAltNames(leaf);
        boolean ip = isIpLiteral(serverName);
        byte[] address = ip ? addressOf(serverName) : null;
        String host = ip ? null : withoutTrailingDot(serverName).toLowerCase(Locale.ROOT);
        for (GeneralName g : sans) {
            if (ip && g.getTagNo() == GeneralName.iPAddress
                    && Arrays.equals(ASN1OctetString.getInstance(g.getName()).getOctets(), address)) {
                return Optional.empty();
            }
            if (!ip && g.getTagNo() == GeneralName.dNSName
                    && withoutTrailingDot(((ASN1String) g.getName()).getString()).toLowerCase(Locale.ROOT).equals(host)) {
                return Optional.empty();
            }
        }
        return Optional.of("certificate does not match " + serverName + " (" + describe(sans) + ")");
    }

    /**
     * Empty when {@code leaf} may serve TLS: it has no extended key usage, or lists serverAuth (or
     * anyExtendedKeyUsage), as OpenSSL's default purpose check for a client; otherwise the refusal:
     * a certificate issued to a client (mTLS) is not a server's, whatever names it carries.
     */
    public static Optional<String> notForServers(X509CertificateHolder leaf) {
        org.bouncycastle.asn1.x509.ExtendedKeyUsage eku = org.bouncycastle.asn1.x509.ExtendedKeyUsage.fromExtensions(leaf.getExtensions());
        if (eku == null || eku.hasKeyPurposeId(org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_serverAuth)
                || eku.hasKeyPurposeId(org.bouncycastle.asn1.x509.KeyPurposeId.anyExtendedKeyUsage)) {
            return Optional.empty();
        }
        return Optional.of("certificate is not for a TLS server: its extended key usage does not list serverAuth (subject "
                + org.rpctlsservd.certs.Dn.oneline(leaf.getSubject()) + ")");
    }

    private static List<GeneralName> subjectAltNames(X509CertificateHolder leaf) {
        Extension san = leaf.getExtension(Extension.subjectAlternativeName);
        return san == null ? List.of() : Arrays.asList(GeneralNames.getInstance(san.getParsedValue()).getNames());
    }

    /** What the certificate names, for the refusal: the administrator compares it with the name given. */
    private static String describe(List<GeneralName> sans) {
        List<String> out = new ArrayList<>();
        for (GeneralName g : sans) {
            if (g.getTagNo() == GeneralName.dNSName) {
                out.add("DNS:" + ((ASN1String) g.getName()).getString());
            } else if (g.getTagNo() == GeneralName.iPAddress) {
                byte[] b = ASN1OctetString.getInstance(g.getName()).getOctets();
                try {
                    out.add("IP:" + InetAddress.getByAddress(b).getHostAddress());
                } catch (UnknownHostException e) {
                    out.add("IP:(" + b.length + " bytes)");
                }
            }
        }
        return out.isEmpty() ? "it has no DNS or IP subjectAltName" : "it names " + String.join(", ", out);
    }

    private static byte[] addressOf(String literal) {
        try {
            return InetAddress.getByName(unbracket(literal)).getAddress(); // a literal: no look-up is made
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP literal: " + literal, e);
        }
    }

    private static String unbracket(String name) {
        return name.length() > 2 && name.startsWith("[") && name.endsWith("]") ? name.substring(1, name.length() - 1) : name;
    }

    private static String withoutTrailingDot(String name) {
        return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    }
}
