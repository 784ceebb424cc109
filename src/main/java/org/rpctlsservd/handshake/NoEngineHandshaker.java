package org.rpctlsservd.handshake;

import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/** Stands in where no TLS engine is configured: every handshake fails at once, with a reason. */
public final class NoEngineHandshaker implements Handshaker {
    @Override
    public CompletionStage<HandshakeOutcome> handshake(SocketChannel socket, long cookie, Executor workers) {
        return CompletableFuture.failedFuture(new IllegalStateException("no TLS engine is configured"));
    }
}
