package org.rpctlsservd.handshake;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Vector;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.Certificate;
import org.bouncycastle.tls.ProtocolName;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsContext;
import org.bouncycastle.tls.TlsFatalAlert;

/**
 * What Bouncy Castle's two sides here ({@link RpcTlsServer}, {@link RpcTlsClient}) do the same way:
 * the parameters they report, the peer's chain as holders, ALPN "sunrpc", a fatal alert sent in
 * words. Static helpers, not a base class: the two extend Bouncy Castle's different defaults.
 */
final class TlsSides {
    static final ProtocolName SUNRPC = ProtocolName.asUtf8Encoding("sunrpc");

    private TlsSides() {
    }

    /** The negotiated parameters (the connection's once the handshake is done), or null before any. */
    static SecurityParameters securityParameters(TlsContext context) {
        if (context == null) {
            return null;
        }
        return context.getSecurityParametersConnection() != null ? context.getSecurityParametersConnection()
                : context.getSecurityParametersHandshake();
    }

    /** The ALPN list both sides name: "sunrpc" alone. */
    static Vector<ProtocolName> sunrpc() {
        Vector<ProtocolName> v = new Vector<>();
        v.add(SUNRPC);
        return v;
    }

    /** The peer's chain as it sent it, leaf first; empty for none. */
    static List<X509CertificateHolder> holders(Certificate certificate) throws IOException {
        List<X509CertificateHolder> chain = new ArrayList<>();
        if (certificate != null) {
            for (int i = 0; i < certificate.getLength(); i++) {
                chain.add(new X509CertificateHolder(certificate.getCertificateAt(i).getEncoded()));
            }
        }
        return List.copyOf(chain);
    }

    /**
     * A fatal alert this side raised, for the audit line: "sent NAME (why)", the reason only when it
     * adds to the name. Our own refusals carry their reason in the alert's cause; Bouncy Castle's
     * message is only where it noticed.
     */
    static String alertSent(short description, String message, Throwable cause) {
        String text = AlertDescription.getText(description);
        String why = cause instanceof TlsFatalAlert && cause.getMessage() != null ? cause.getMessage() : message;
        if (why != null && why.startsWith(text + "; ")) {
            why = why.substring(text.length() + 2); // TlsFatalAlert's message repeats the alert's name
        }
        if (why != null && why.equals(text)) {
            why = null;
        }
        return "sent " + text + (why == null ? "" : " (" + why + ")");
    }

    /** True when a chain's verification failed for want of a path to a trusted CA (the JDK's and OpenSSL's words for it). */
    static boolean noPathToCa(String reason) {
        String lower = reason.toLowerCase(Locale.ROOT);
        return lower.contains("unable to find valid certification path") || lower.contains("no issuer certificate")
                || lower.contains("unable to get local issuer");
    }
}
