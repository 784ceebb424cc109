package org.rpctlsservd.handshake;

import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletionStage;

/** The server side of one TLS handshake on a socket claimed from the hand-off registry. */
public interface Handshaker {
    /**
     * Starts the handshake. Called on a handshake worker; CPU work may continue on {@code workers},
     * which also wait for the socket, but no worker may be held while waiting for the peer. The stage completes with the outcome,
     * or exceptionally when the handshake failed (the socket is then the caller's to close).
     * {@code receivedNanos} (System.nanoTime) is when the CONNECT call arrived: a deadline counts
     * from then, so time spent waiting for a worker counts too and the caller's own timeout is
     * not outrun by a late success.
     */
    CompletionStage<HandshakeOutcome> handshake(SocketChannel socket, java.net.InetSocketAddress client, long cookie, Steps workers,
            long receivedNanos);
}
