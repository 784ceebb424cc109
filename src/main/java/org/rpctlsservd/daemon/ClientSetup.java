package org.rpctlsservd.daemon;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.ClientTls;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.Steps;
import org.rpctlsservd.handshake.TlsPolicy;

/**
 * rpc.tlsclntd's TLS context from its command line, as rpctls_setupcl_ssl builds its SSL_CTX: the
 * cipher names, with -m the certificate and key under -D, with -l/-p the CA material (and -r's
 * CRL). A file that cannot be used is named with its option; the daemon then does not start.
 */
final class ClientSetup {
    private ClientSetup() {
    }

    /** The checks of a start: every file read once, as the handshakes will read them. */
    static void check(Config c) throws TlsSetup.SetupException {
        try {
            if (c.ciphers() != null) {
                TlsPolicy.parseTls13Suites(c.ciphers());
            }
        } catch (IllegalArgumentException e) {
            throw new TlsSetup.SetupException("SSL_CTX_set_ciphersuites failed: " + e.getMessage());
        }
        try {
            if (c.mutualVerify()) {
                ServerCredentials.load(c.certDir());
            }
            if (c.caFile() != null || c.caPath() != null) {
                TrustMaterial.load(c.caFile(), c.caPath(), c.crlFile());
            }
        } catch (IOException e) {
            throw TlsSetup.SetupException.of(e);
        }
    }

    /**
     * The client handshakes for {@code c}. Until the client engine (handshake.ClientTls.start, helper A's) is
     * merged, every CONNECT is answered NOSSL with the reason below; the daemon, its service and its
     * registration are whole.
     */
    static ClientTls tls(Config c) throws TlsSetup.SetupException {
        check(c);
        return new ClientTls() {
            @Override
            public CompletionStage<HandshakeOutcome> connect(SocketChannel socket, String serverName, String certName, long cookie,
                    Steps workers, long receivedNanos) {
                return CompletableFuture.failedFuture(new IOException("this build has no client handshake engine"));
            }

            @Override
            public void close() {
                // nothing held
            }
        };
    }
}
