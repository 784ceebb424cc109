package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletionStage;

/**
 * The client side of RPC-over-TLS handshakes, as rpc.tlsclntd does them for the RPCTLSCD CONNECT
 * upcall: on a socket already connected to an RFC 9289 server whose STARTTLS probe was answered,
 * a TLS client handshake (TLS 1.3 unless -2, ALPN "sunrpc", hybrid post-quantum groups first),
 * checking the server's certificate against the CA and {@code serverName} when -l or -p is given,
 * and presenting a client certificate with -m. Its implementation stays inside this package.
 */
public interface ClientTls extends Closeable {
    /**
     * Starts the handshake, on a handshake worker; like {@link Handshaker#handshake} its steps run
     * on {@code workers} and no worker is held while waiting for the server. Completes with the
     * outcome (flags: FLAGS_HANDSHAKE, and FLAGS_VERIFIED when the server's certificate was
     * checked), or exceptionally with the reason in words (the socket is then the caller's to
     * close). {@code serverName}: the name or IP literal the certificate must match (null: the
     * socket's peer address, as FreeBSD's reverse look-up would give it); {@code certName}: the
     * per-mount client certificate ({@code <certName>.pem}, {@code <certName>key.pem}), empty for
     * the daemon's own.
     */
    CompletionStage<HandshakeOutcome> connect(SocketChannel socket, String serverName, String certName, long cookie,
            Steps workers, long receivedNanos);

    @Override
    void close();
}
