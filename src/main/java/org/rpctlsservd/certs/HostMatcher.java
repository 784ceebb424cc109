package org.rpctlsservd.certs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;

/**
 * The {@code -h} check: does a certificate name a host, with OpenSSL X509_check_host's rules
 * (DNS subjectAltNames compared case-insensitively; the subject CN only when there are none;
 * IP-address names never). Wildcards per the C daemon's modes: none (default), one label
 * ({@code -w}, flags 0) or several labels ({@code -W}, flags 0x8). Written by hand: no library
 * here has OpenSSL's wildcard rules, and the daemon's behaviour is defined by them.
 */
public final class HostMatcher {
    public static final int NO_WILDCARDS = 0x2;
    public static final int MULTI_LABEL_WILDCARDS = 0x8;

    private HostMatcher() {
    }

    /** True when {@code cert} names {@code host} under {@code flags}. */
    public static boolean matches(X509CertificateHolder cert, String host, int flags) {
        for (String name : names(cert)) {
            if (matchName(name, host, flags)) {
                return true;
            }
        }
        return false;
    }

    /** The DNS subjectAltNames, or the subject CNs when there are no DNS names. */
    static List<String> names(X509CertificateHolder cert) {
        List<String> dns = new ArrayList<>();
        Extension san = cert.getExtension(Extension.subjectAlternativeName);
        if (san != null) {
            for (GeneralName g : GeneralNames.getInstance(san.getParsedValue()).getNames()) {
                if (g.getTagNo() == GeneralName.dNSName) {
                    dns.add(((ASN1String) g.getName()).getString());
                }
            }
        }
        if (!dns.isEmpty()) {
            return dns;
        }
        List<String> cns = new ArrayList<>();
        for (RDN rdn : cert.getSubject().getRDNs(BCStyle.CN)) {
            for (AttributeTypeAndValue atv : rdn.getTypesAndValues()) {
                if (atv.getValue() instanceof ASN1String) {
                    cns.add(((ASN1String) atv.getValue()).getString());
                }
            }
        }
        return cns;
    }

    /** One certificate name (a pattern) against one host name. */
    public static boolean matchName(String pattern, String host, int flags) {
        if (pattern.isEmpty() || host.isEmpty()) {
            return false;
        }
        int star = (flags & NO_WILDCARDS) != 0 ? -1 : validStar(pattern, flags);
        if (star < 0) {
            return equalNoCase(pattern, host);
        }
        return wildcardMatch(pattern.substring(0, star), pattern.substring(star + 1), host, flags);
    }

    private static boolean equalNoCase(String a, String b) {
        return a.toLowerCase(Locale.ROOT).equals(b.toLowerCase(Locale.ROOT));
    }

    /** The index of a usable wildcard in the pattern's leftmost label, or -1 (then it is compared literally). */
    static int validStar(String p, int flags) {
        final int labelStart = 1;
        final int labelIdna = 2;
        final int labelHyphen = 4;
        int star = -1;
        int dots = 0;
        int state = labelStart;
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '*') {
                boolean atStart = (state & labelStart) != 0;
                boolean atEnd = i == p.length() - 1 || p.charAt(i + 1) == '.';
                if (star >= 0 || (state & labelIdna) != 0 || dots > 0) {
                    return -1;
                }
                if (!atStart && !atEnd) {
                    return -1;
                }
                star = i;
                state &= ~labelStart;
            } else if (isAlnum(c)) {
                if ((state & labelStart) != 0 && p.length() - i >= 4 && p.regionMatches(true, i, "xn--", 0, 4)) {
                    state |= labelIdna;
                }
                state &= ~(labelHyphen | labelStart);
            } else if (c == '.') {
                if ((state & (labelHyphen | labelStart)) != 0) {
                    return -1;
                }
                state = labelStart;
                dots++;
            } else if (c == '-') {
                if ((state & labelStart) != 0) {
                    return -1;
                }
                state |= labelHyphen;
            } else {
                return -1;
            }
        }
        // The last label must not end in a hyphen or a dot, and two labels must follow the wildcard's.
        if ((state & (labelStart | labelHyphen)) != 0 || dots < 2) {
            return -1;
        }
        return star;
    }

    private static boolean wildcardMatch(String prefix, String suffix, String subject, int flags) {
        if (subject.length() < prefix.length() + suffix.length()) {
            return false;
        }
        if (!subject.regionMatches(true, 0, prefix, 0, prefix.length())) {
            return false;
        }
        int wildStart = prefix.length();
        int wildEnd = subject.length() - suffix.length();
        if (!subject.regionMatches(true, wildEnd, suffix, 0, suffix.length())) {
            return false;
        }
        boolean allowIdna = false;
        boolean allowMulti = false;
        // A wildcard that is the whole first label must match at least one character.
        if (prefix.isEmpty() && suffix.startsWith(".")) {
            if (wildStart == wildEnd) {
                return false;
            }
            allowIdna = true;
            allowMulti = (flags & MULTI_LABEL_WILDCARDS) != 0;
        }
        if (!allowIdna && subject.length() >= 4 && subject.regionMatches(true, 0, "xn--", 0, 4)) {
            return false;
        }
        if (wildEnd == wildStart + 1 && subject.charAt(wildStart) == '*') {
            return true;
        }
        for (int i = wildStart; i < wildEnd; i++) {
            char c = subject.charAt(i);
            if (!(isAlnum(c) || c == '-' || (allowMulti && c == '.'))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isAlnum(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
}
