package org.rpctlsservd.certs;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Logger;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1TaggedObject;
import org.bouncycastle.asn1.ASN1UTF8String;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.OtherName;
import org.bouncycastle.cert.X509CertificateHolder;

/**
 * The {@code -u} mapping's first half: the user named by a certificate's first otherName
 * 1.3.6.1.4.1.2238.1.1.1 whose UTF8String value (3 to 1024 bytes) is {@code user@domain}, the
 * first case-insensitive occurrence of the server's {@code @domain} standing at its very end.
 */
public final class CertUser {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    public static final ASN1ObjectIdentifier OTHERNAME_OID = new ASN1ObjectIdentifier("1.3.6.1.4.1.2238.1.1.1");

    private CertUser() {
    }

    /** The user name, or empty. {@code domain} includes its leading "@". */
    public static Optional<String> user(X509CertificateHolder cert, String domain) {
        Extension san = cert.getExtension(Extension.subjectAlternativeName);
        if (san == null) {
            return Optional.empty();
        }
        for (GeneralName g : GeneralNames.getInstance(san.getParsedValue()).getNames()) {
            if (g.getTagNo() != GeneralName.otherName) {
                continue;
            }
            OtherName on = OtherName.getInstance(g.getName());
            if (!OTHERNAME_OID.equals(on.getTypeID())) {
                continue;
            }
            ASN1Encodable v = on.getValue();
            if (v instanceof ASN1TaggedObject) {
                v = ((ASN1TaggedObject) v).getBaseObject();
            }
            ASN1Primitive prim = v.toASN1Primitive();
            if (!(prim instanceof ASN1UTF8String)) {
                int tag = prim instanceof ASN1TaggedObject ? ((ASN1TaggedObject) prim).getTagNo() : tagOf(prim);
                LOG.fine(() -> "rpctls_cnname: invalid cnuser type=" + tag);
                continue;
            }
            String s = ((ASN1UTF8String) prim).getString();
            int bytes = s.getBytes(StandardCharsets.UTF_8).length;
            if (bytes < 3 || bytes > 1024) {
                LOG.fine(() -> "rpctls_cnname: invalid cnuser type=12 length=" + bytes);
                continue;
            }
            int nul = s.indexOf('\0');
            if (nul >= 0) {
                s = s.substring(0, nul); // the C daemon copied it into a NUL-terminated string
            }
            int at = s.toLowerCase(Locale.ROOT).indexOf(domain.toLowerCase(Locale.ROOT));
            if (at < 0 || at + domain.length() != s.length()) {
                continue;
            }
            return Optional.of(s.substring(0, at));
        }
        return Optional.empty();
    }

    private static int tagOf(ASN1Primitive p) {
        try {
            byte[] enc = p.getEncoded();
            return enc.length > 0 ? enc[0] & 0x1f : -1;
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
