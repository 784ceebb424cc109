package org.rpctlsservd.handshake;

import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.sessions.SessionTable;

/**
 * The typed way to the established sessions in the daemon's session table: the front end asks
 * for the one its CONNECT upcall established; a reload shuts off those the new trust refuses.
 * The table holds any {@link org.rpctlsservd.sessions.Session}; only this class knows which of
 * them are TLS sessions.
 */
public final class EstablishedSessions {
    private final SessionTable table;

    public EstablishedSessions(SessionTable table) {
        this.table = table;
    }

    /** The session established under {@code cookie}, or null when there is none (gone, or not a TLS one). */
    public EstablishedSession get(long cookie) {
        return table.get(cookie) instanceof TlsSession s ? s : null;
    }

    /** Shuts off every session whose verified certificate {@code trust} refuses now (revoked, or off the allow-list). */
    public void shutOffRefused(TrustMaterial trust) {
        table.forEach(s -> {
            if (s instanceof TlsSession t && !t.verifiedChain().isEmpty() && !t.isShutOff() && t.refusedUnder(trust)) {
                t.shutOff(trust);
            }
        });
    }
}
