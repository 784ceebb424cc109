package org.rpctlsservd.certs;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/** Distinguished names in OpenSSL's one-line form ({@code /C=SE/O=Org/CN=name}), as the C daemon logs them. */
public final class Dn {
    private Dn() {
    }

    public static String oneline(X500Name name) {
        StringBuilder b = new StringBuilder();
        for (RDN rdn : name.getRDNs()) {
            for (AttributeTypeAndValue atv : rdn.getTypesAndValues()) {
                b.append('/').append(shortName(atv.getType())).append('=')
                        .append(IETFUtils.valueToString(atv.getValue()));
            }
        }
        return b.length() == 0 ? "/" : b.toString();
    }

    /** The last (most specific) commonName of {@code name}, or null when it has none. */
    public static String commonName(X500Name name) {
        RDN[] cns = name.getRDNs(BCStyle.CN);
        if (cns.length == 0) {
            return null;
        }
        org.bouncycastle.asn1.ASN1Encodable v = cns[cns.length - 1].getFirst().getValue();
        return v instanceof org.bouncycastle.asn1.ASN1String ? ((org.bouncycastle.asn1.ASN1String) v).getString() : IETFUtils.valueToString(v);
    }

    private static String shortName(ASN1ObjectIdentifier oid) {
        if (BCStyle.EmailAddress.equals(oid)) {
            return "emailAddress";
        }
        String s = BCStyle.INSTANCE.oidToDisplayName(oid);
        return s != null ? s : oid.getId();
    }
}
