package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import org.rpctlsservd.certs.TrustMaterial;

/**
 * The client side of RPC-over-TLS handshakes, as rpc.tlsclntd does them for the RPCTLSCD CONNECT
 * upcall: on a socket already connected to an RFC 9289 server whose STARTTLS probe was answered,
 * a TLS client handshake (TLS 1.3 unless -2, ALPN "sunrpc", hybrid post-quantum groups first),
 * checking the server's certificate against the CA and {@code serverName} when -l or -p is given,
 * and presenting a client certificate with -m. Its implementation stays inside this package.
 */
public interface ClientTls extends Closeable {
    /**
     * The client's TLS engine for {@code policy}: with -m ({@link ClientPolicy#presentCert}) it reads
     * {@code cert.pem}/{@code certkey.pem} under {@link ClientPolicy#certDir} now, as rpc.tlsclntd
     * does at start (a {@link org.rpctlsservd.certs.FileProblem} says what is wrong); {@code trust}:
     * the -l/-p CAs and -r CRL, given exactly when {@link ClientPolicy#verify}, else null.
     * Deadlines run on {@code timer}.
     */
    static ClientTls start(ClientPolicy policy, TrustMaterial trust, ScheduledExecutorService timer) throws IOException {
        return new ClientEngine(policy, trust, timer);
    }

    /**
     * Starts the handshake, on a handshake worker; like {@link Handshaker#handshake} its steps run
     * on {@code workers} and no worker is held while waiting for the server. Completes with the
     * outcome (flags: FLAGS_HANDSHAKE, and FLAGS_GOTCERT|FLAGS_VERIFIED when the server's certificate
     * was checked and passed; the session is an {@link EstablishedSession} for the session table),
     * or exceptionally with an IOException whose message is the reason in words (the socket is
     * then closed). One audit line per handshake, at INFO on logger "rpctlssd".
     * {@code serverName}: the DNS name or IP literal the certificate must match with -l/-p (null or
     * empty: the socket's peer address, as an IP literal); {@code certName}: with -m, the
     * per-mount client certificate ({@code <certName>.pem}, {@code <certName>key.pem}), empty for
     * the daemon's own.
     */
    CompletionStage<HandshakeOutcome> connect(SocketChannel socket, String serverName, String certName, long cookie,
            Steps workers, long receivedNanos);

    /** The trust material (null without -l/-p). */
    TrustMaterial trust();

    /** New handshakes check against {@code t} (a reload's new CRL); live sessions keep what they verified. */
    void replaceTrust(TrustMaterial t);

    /** Handshakes started and not yet finished. */
    int inFlight();

    @Override
    void close();
}
