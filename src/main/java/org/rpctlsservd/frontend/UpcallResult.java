package org.rpctlsservd.frontend;

import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.rpc.AsyncRpcClient;

/**
 * The CONNECT upcall's answer: a failed handshake closes the connection (its socket taken back
 * from the hand-off registry, or the session the daemon made disconnected); a successful one
 * gives the connection its typed established session ({@link EstablishedSession}, from the
 * daemon's session table through {@link ConnectionServices#established}) and what the upcall
 * said of the client (flags, uid, gids), and the connection relays over TLS from then on.
 */
final class UpcallResult {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final Connection c;
    private final TlsRecords tls;

    UpcallResult(Connection c, TlsRecords tls) {
        this.c = c;
        this.tls = tls;
    }

    /** On the connection's loop: true when the session is established (the caller relays on); false when the connection is closed. */
    boolean accept(ConnectResult res, Throwable err) {
        if (err != null || res == null) {
            Throwable cause = err instanceof CompletionException ? err.getCause() : err;
            boolean ours = c.services.withdraw(c.cookie, c.client);
            if (cause instanceof AsyncRpcClient.RpcErrorException rpc && rpc.acceptStat() == OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR) {
                // the handshake failed, and the daemon's audit line for it said why: no second line
                LOG.fine(() -> "front end " + LogText.address(c.peer) + ": CONNECT upcall answered " + LogText.acceptStat(rpc.acceptStat()));
            } else {
                c.services.warnings().info("upcall-failed", () -> "front end " + LogText.address(c.peer) + ": CONNECT upcall failed: "
                        + (cause == null ? "no result" : LogText.why(cause, "the RPCTLSSD service")));
            }
            if (!ours && cause instanceof TimeoutException) {
                // the daemon took the socket and has not answered: make sure no session is left behind
                c.services.upcalls().disconnect(c.cookie);
            }
            c.events.closeAll();
            return false;
        }
        EstablishedSession s = c.services.established(c.cookie);
        if (s == null || c.closed()) {
            if (s != null) {
                c.services.upcalls().disconnect(c.cookie);
            }
            c.events.closeAll();
            return false;
        }
        tls.established(s);
        c.flags = res.flags;
        c.uid = res.uid;
        c.gids = res.gids;
        c.services.stats().handshake();
        c.state = Connection.State.TLS;
        c.earned = Member.TLS_SESSION;
        // A reload or CRL that shuts the session off cuts the client off at once: nothing it sends
        // after that moment reaches the backend (decrypt refuses it), and both sides are closed.
        s.whenShutOff(() -> c.closeSoon("certificate no longer accepted: shut off")); // never inline: the caller goes on
        return true;
    }
}
