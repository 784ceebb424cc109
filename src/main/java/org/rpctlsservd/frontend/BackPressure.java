package org.rpctlsservd.frontend;

import java.nio.channels.SocketChannel;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The back-pressure stage: each side is read again only while the queues it fills stay below
 * {@link #HIGH_WATER}; a side paused for that is read again once the queue it filled drained below
 * {@link Connection#LOW_WATER}. So each connection's queues stay bounded whoever fills them
 * (relayed records, the front end's own replies, TLS output, what waits for a handshake). Shared
 * by both compositions: the "backend" is the connector's server.
 */
final class BackPressure {
    /** Past this many bytes queued for a side, the side producing for it is no longer read. */
    static final long HIGH_WATER = 1024L * 1024;

    private final Connection c;
    private final Runnable clientReadable;
    private final Runnable backendReadable;
    /** What waits for the client, in all (its queue, what is held for the handshake, our own replies not yet placed). */
    private final LongSupplier forClient;
    /** What waits for the backend, in all (its queue, and in the connector what is held for the handshake). */
    private final LongSupplier forBackend;
    /** The backend's channel once connected, else null. */
    private final Supplier<SocketChannel> backend;
    private boolean clientReadPaused;
    private boolean backendReadPaused;

    BackPressure(Connection c, Runnable clientReadable, Runnable backendReadable, LongSupplier forClient, LongSupplier forBackend,
            Supplier<SocketChannel> backend) {
        this.c = c;
        this.clientReadable = clientReadable;
        this.backendReadable = backendReadable;
        this.forClient = forClient;
        this.forBackend = forBackend;
        this.backend = backend;
    }

    void armClientRead() {
        if (!c.reading()) {
            return;
        }
        if (forBackend.getAsLong() >= HIGH_WATER || c.toClient.footprint() >= HIGH_WATER) {
            clientReadPaused = true; // resumed when the side it fills has taken enough
            c.services.stats().paused();
            return;
        }
        c.io.onReadable(c.client, clientReadable);
    }

    void armBackendRead() {
        SocketChannel ch = backend.get();
        if (c.closed() || c.draining || ch == null) {
            return;
        }
        if (forClient.getAsLong() >= HIGH_WATER) {
            backendReadPaused = true; // resumed when the client has taken enough
            c.services.stats().paused();
            return;
        }
        c.io.onReadable(ch, backendReadable);
    }

    /** The client's queue drained: the backend may be read again, and the client (its own replies may have held it). */
    void clientDrained() {
        if (backendReadPaused) {
            backendReadPaused = false;
            armBackendRead();
        }
        resumeClientRead();
    }

    /** The backend's queue drained: the client may be read again. */
    void resumeClientRead() {
        if (clientReadPaused) {
            clientReadPaused = false;
            armClientRead();
        }
    }
}
