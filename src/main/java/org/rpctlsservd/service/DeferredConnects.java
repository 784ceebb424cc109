package org.rpctlsservd.service;

import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Steps;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.sessions.Cookies;
import org.rpctlsservd.sessions.Session;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * What RPCTLSSD's and RPCTLSCD's CONNECT have in common: only privileged callers drive sessions;
 * the call is deferred with its xid and handed to the bounded handshake workers; the socket is
 * claimed from the hand-off registry; a finished handshake's session enters the table before the
 * reply, and leaves it again when the caller has gone. Each failure is answered at once, in the
 * {@link Side}'s words; the handshake itself and the replies are the side's.
 */
final class DeferredConnects {
    /** Why a CONNECT is answered without a session. */
    enum Refusal {
        /** Every worker busy and the queue full. */
        QUEUE_FULL,
        /** No socket parked under the cookie (unknown, or claimed already). */
        NO_SOCKET,
        /** The handshake failed; the handshaker counted it, with its reason. */
        FAILED,
        /** The cookie already has a session. */
        DUPLICATE
    }

    /** One program's part: its handshake and its replies. */
    interface Side {
        /** Starts the handshake on the claimed socket, on a worker (see {@link org.rpctlsservd.handshake.Handshaker}). */
        CompletionStage<HandshakeOutcome> handshake(SocketHandoff.Parked parked, long socookie, Steps steps, long receivedNanos);

        /** Answers {@code call} with the error for {@code why}. */
        void refuse(RpcCall call, Refusal why);

        /** Answers {@code call} with the success result; false when the caller has gone. */
        boolean succeed(RpcCall call, HandshakeOutcome outcome);
    }

    /** Procedure 0 of every ONC-RPC program. */
    private static final int NULLPROC = 0;

    private final String name;
    private final Logger log;
    private final SocketHandoff handoff;
    private final SessionTable sessions;
    private final HandshakeWorkers workers;
    private final boolean insecure;
    private final RateLimitedLog warnings;

    /** {@code name}: the program's name in log lines ("rpctlssd"). */
    DeferredConnects(String name, Logger log, SocketHandoff handoff, SessionTable sessions, HandshakeWorkers workers, boolean insecure) {
        this.name = name;
        this.log = log;
        this.handoff = handoff;
        this.sessions = sessions;
        this.workers = workers;
        this.insecure = insecure;
        this.warnings = new RateLimitedLog(log);
    }

    /**
     * The generated skeleton {@code stub} as program {@code program} version {@code version} for
     * {@link org.rpctlsservd.rpc.RpcDispatcher}: each call admitted ({@link #admitted}) goes to the
     * skeleton's dispatch.
     */
    org.rpctlsservd.rpc.RpcProgram program(int program, int version, org.acplt.oncrpc.server.OncRpcDispatchable stub) {
        return new org.rpctlsservd.rpc.RpcProgram() {
            @Override
            public int program() {
                return program;
            }

            @Override
            public int lowVersion() {
                return version;
            }

            @Override
            public int highVersion() {
                return version;
            }

            @Override
            public void dispatch(RpcCall call) throws org.acplt.oncrpc.OncRpcException, java.io.IOException {
                if (admitted(call)) {
                    stub.dispatchOncRpcCall(call.info(), call.header().program, call.header().version, call.header().procedure);
                }
            }
        };
    }

    /** HANDLERECORD: reterr. */
    int handleRecord(long socookie) {
        int reterr = sessions.handleRecord(socookie);
        log.fine(() -> name + "_handlerecord cookie=" + cookie(socookie) + " reterr=" + reterr);
        return reterr;
    }

    /** DISCONNECT: reterr. */
    int disconnect(long socookie) {
        int reterr = sessions.disconnect(socookie);
        log.fine(() -> name + "_disconnect cookie=" + cookie(socookie) + (reterr == SessionTable.RPCTLSERR_OK ? " closed" : " unknown"));
        return reterr;
    }

    /**
     * True when {@code call} may go on; else it has been answered AUTH_ERROR / AUTH_TOOWEAK: a
     * procedure that drives sessions (all but NULL: CONNECT, HANDLERECORD, DISCONNECT in both
     * programs) from a caller that is neither root nor the daemon's user on the Unix-domain
     * socket, nor on a reserved port (unless insecure, for testing).
     */
    boolean admitted(RpcCall call) {
        int procedure = call.header().procedure;
        if (procedure == NULLPROC || insecure || call.sink().privileged()) {
            return true;
        }
        warnings.warning("unprivileged", () -> "refused procedure " + procedure + " from " + call.sink().who()
                + ": not a privileged caller (AUTH_TOOWEAK)");
        call.replyAuthError(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK);
        return false;
    }

    /** CONNECT: hand the call to the workers; never blocks the receiving thread. */
    void connect(RpcCall call, long socookie, Side side) {
        call.defer();
        long received = System.nanoTime();
        boolean queued = workers.submit(() -> run(call, socookie, received, side));
        if (!queued) {
            warnings.warning("queue-full", () -> name + "_connect_svc: xid " + xid(call) + ": handshake queue full, refused");
            Metrics.handshakeFailed(Metrics.Failure.QUEUE_FULL, received);
            side.refuse(call, Refusal.QUEUE_FULL);
        } else {
            log.fine(() -> name + "_connect_svc: xid " + xid(call) + " queued");
        }
    }

    private void run(RpcCall call, long socookie, long received, Side side) {
        Optional<SocketHandoff.Parked> claimed = handoff.claim(socookie);
        if (claimed.isEmpty()) {
            log.fine(() -> name + "_connect_svc: xid " + xid(call) + ": no socket for cookie " + cookie(socookie));
            Metrics.handshakeFailed(Metrics.Failure.UNKNOWN_COOKIE, received);
            side.refuse(call, Refusal.NO_SOCKET);
            return;
        }
        SocketChannel socket = claimed.get().socket();
        try {
            side.handshake(claimed.get(), socookie, workers.executor(), received)
                    .whenComplete((outcome, failure) -> finish(call, socookie, socket, outcome, failure, side));
        } catch (RuntimeException e) {
            Metrics.handshakeFailed(Metrics.Failure.INTERNAL, received); // the handshaker threw before it could count it
            finish(call, socookie, socket, null, e, side);
        }
    }

    private void finish(RpcCall call, long socookie, SocketChannel socket, HandshakeOutcome outcome, Throwable failure, Side side) {
        if (failure != null || outcome == null) {
            log.fine(() -> name + "_connect_svc: xid " + xid(call) + ": handshake failed: "
                    + (failure == null ? "no outcome" : failure.getMessage()));
            Channels.closeQuietly(socket);
            side.refuse(call, Refusal.FAILED);
            return;
        }
        Session session = outcome.session();
        // The entry exists before the reply, so a HANDLERECORD or DISCONNECT right after it finds it.
        if (!sessions.put(session)) {
            log.warning(name + "_connect_svc: xid " + xid(call) + ": " + Cookies.tag(socookie) + " already has a session");
            session.disconnect();
            side.refuse(call, Refusal.DUPLICATE);
            return;
        }
        log.fine(() -> name + "_connect_svc: succeeded flags=0x" + Integer.toHexString(outcome.flags()));
        if (!side.succeed(call, outcome)) {
            // The caller has gone and will never send DISCONNECT: do not leak the session.
            warnings.info("caller-gone", () -> name + "_connect_svc: xid " + xid(call) + ": caller gone, closing the session "
                    + Cookies.tag(socookie));
            if (sessions.remove(socookie) != null) {
                session.disconnect();
            }
        }
    }

    /** The whole cookie: for -v (FINE) lines only; other lines use {@link Cookies#tag}. */
    static String cookie(long socookie) {
        return Cookies.full(socookie) + " (" + Cookies.tag(socookie) + ")";
    }

    /** The call's xid for a log line: made only when a line is written, not for every CONNECT. */
    private static String xid(RpcCall call) {
        return Integer.toUnsignedString(call.xid());
    }
}
