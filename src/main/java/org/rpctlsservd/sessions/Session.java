package org.rpctlsservd.sessions;

/**
 * One connection whose TLS handshake succeeded: what HANDLERECORD, DISCONNECT, the CRL re-check
 * and shutdown act upon. Implementations are safe to call from any thread.
 */
public interface Session {
    /** The cookie the connection was handed over under (unsigned 64-bit). */
    long cookie();

    /**
     * HANDLERECORD: consume a pending non-application record (alert, post-handshake message); when
     * the peer's close_notify has arrived and none was sent, send one.
     */
    void handlePendingRecord();

    /** DISCONNECT: close_notify unless shut off, half-close for writing, then close the socket. */
    void disconnect();

    /**
     * Daemon shutdown: shut the read side down (as the C daemon's SIGTERM does) and close the
     * socket, without a close_notify.
     */
    void abort();
}
