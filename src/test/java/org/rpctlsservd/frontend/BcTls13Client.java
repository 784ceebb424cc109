package org.rpctlsservd.frontend;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Vector;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.CertificateRequest;
import org.bouncycastle.tls.DefaultTlsClient;
import org.bouncycastle.tls.NameType;
import org.bouncycastle.tls.ProtocolName;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.ServerName;
import org.bouncycastle.tls.TlsAuthentication;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsServerCertificate;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.rpctlsservd.support.TestPki;

/**
 * A Bouncy Castle TLS 1.3 client (TlsClientProtocol, blocking) on a socket after its RFC 9289 probe,
 * offering ALPN sunrpc and {@code suites}, pinning the daemon's certificate, that hands back copies of
 * the session's application traffic secrets: for reading the wire, or for writing records of one's
 * own on the socket (the client's next record is sequence number 0: the handshake reads nothing
 * beyond the server's Finished).
 */
record BcTls13Client(TlsClientProtocol protocol, byte[][] secrets, int suite, String negotiated) {

    /**
     * The handshake on {@code raw}. Closing the protocol half-closes the socket (close_notify, then
     * FIN), so the daemon's answer still arrives to be read from the socket.
     */
    static BcTls13Client connect(Socket raw, TestPki.Issued server, int... suites) throws IOException {
        BcTlsCrypto crypto = new BcTlsCrypto(new SecureRandom());
        byte[][] secrets = new byte[2][];
        int[] suite = new int[1];
        String[] negotiated = new String[1];
        DefaultTlsClient client = new DefaultTlsClient(crypto) {
            @Override
            protected ProtocolVersion[] getSupportedVersions() {
                return ProtocolVersion.TLSv13.only();
            }

            @Override
            protected int[] getSupportedCipherSuites() {
                return suites;
            }

            @Override
            protected Vector<ProtocolName> getProtocolNames() {
                Vector<ProtocolName> v = new Vector<>();
                v.add(ProtocolName.asUtf8Encoding("sunrpc"));
                return v;
            }

            @Override
            protected Vector<ServerName> getSNIServerNames() {
                Vector<ServerName> v = new Vector<>();
                v.add(new ServerName(NameType.host_name, "localhost".getBytes(StandardCharsets.US_ASCII)));
                return v;
            }

            @Override
            public TlsAuthentication getAuthentication() {
                return new TlsAuthentication() {
                    @Override
                    public void notifyServerCertificate(TlsServerCertificate c) throws IOException {
                        // the daemon's own certificate, pinned: the handshake is not what these tests are about
                        if (c.getCertificate().isEmpty()
                                || !Arrays.equals(c.getCertificate().getCertificateAt(0).getEncoded(), server.cert().getEncoded())) {
                            throw new TlsFatalAlert(AlertDescription.bad_certificate);
                        }
                    }

                    @Override
                    public TlsCredentials getClientCredentials(CertificateRequest r) {
                        return null;
                    }
                };
            }

            @Override
            public void notifyHandshakeComplete() throws IOException {
                super.notifyHandshakeComplete();
                SecurityParameters sp = context.getSecurityParametersConnection();
                // copies: extracting Bouncy Castle's own would wipe the secrets it protects its records with
                secrets[0] = crypto.adoptSecret(sp.getTrafficSecretClient()).extract();
                secrets[1] = crypto.adoptSecret(sp.getTrafficSecretServer()).extract();
                suite[0] = sp.getCipherSuite();
                negotiated[0] = sp.getNegotiatedVersion() + " " + Tls13Wiretap.suiteName(sp.getCipherSuite()) + " alpn "
                        + (sp.getApplicationProtocol() == null ? null : sp.getApplicationProtocol().getUtf8Decoding());
            }
        };
        TlsClientProtocol p = new TlsClientProtocol(new FilterInputStream(raw.getInputStream()) {
            @Override
            public void close() {
                // the socket stays open for the daemon's answer
            }
        }, new FilterOutputStream(raw.getOutputStream()) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                raw.shutdownOutput();
            }
        });
        p.connect(client);
        return new BcTls13Client(p, secrets, suite[0], negotiated[0]);
    }
}
