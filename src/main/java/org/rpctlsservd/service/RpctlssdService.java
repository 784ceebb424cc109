package org.rpctlsservd.service;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.server.OncRpcCallInformation;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Handshaker;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.rpc.RpcProgram;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpc.gen.rpctlssdServerStub;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_res;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.sessions.Cookies;
import org.rpctlsservd.sessions.Session;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * Program RPCTLSSD version 2 on the jrpcgen skeleton. NULL, HANDLERECORD and DISCONNECT are
 * answered on the receiving thread; CONNECT is deferred: the call (with its xid) goes to the
 * handshake workers, which answer it when the handshake ends. Unlike the C daemon, every failure
 * is answered at once with SYSTEM_ERR, so no caller waits for its timeout.
 *
 * <p>Only privileged callers drive sessions: CONNECT, HANDLERECORD and DISCONNECT are answered
 * on the Unix-domain socket (root and the daemon's user) and on TCP/UDP from reserved ports; any
 * other caller gets AUTH_ERROR / AUTH_TOOWEAK, unless {@code insecure} (for testing). NULL stays
 * open to everyone, for rpcinfo and monitoring. In FreeBSD the kernel-to-daemon channel is out of
 * unprivileged users' reach; on loopback TCP it would not be without this check.
 */
public final class RpctlssdService extends rpctlssdServerStub implements RpcProgram {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final SocketHandoff handoff;
    private final SessionTable sessions;
    private final HandshakeWorkers workers;
    private final Handshaker handshaker;
    private final boolean insecure;
    private final RateLimitedLog warnings = new RateLimitedLog(LOG);
    /** The groups of a CONNECT result without a certificate user: only ever encoded, so one empty array for all. */
    private static final int[] NO_GIDS = new int[0];

    public RpctlssdService(SocketHandoff handoff, SessionTable sessions, HandshakeWorkers workers, Handshaker handshaker,
            boolean insecure) throws OncRpcException, IOException {
        // The generated constructor always binds a TCP transport; ours serve the calls, so it is
        // bound to an ephemeral loopback port and closed at once.
        super(InetAddress.getLoopbackAddress(), 0);
        close(transports);
        this.handoff = handoff;
        this.sessions = sessions;
        this.workers = workers;
        this.handshaker = handshaker;
        this.insecure = insecure;
    }

    @Override
    public int program() {
        return rpctlssd.RPCTLSSD;
    }

    @Override
    public int lowVersion() {
        return rpctlssd.RPCTLSSDVERS;
    }

    @Override
    public int highVersion() {
        return rpctlssd.RPCTLSSDVERS;
    }

    @Override
    public void dispatch(RpcCall call) throws OncRpcException, IOException {
        int procedure = call.header().procedure;
        boolean drivesSessions = procedure == rpctlssd.RPCTLSSD_CONNECT_2 || procedure == rpctlssd.RPCTLSSD_HANDLERECORD_2
                || procedure == rpctlssd.RPCTLSSD_DISCONNECT_2;
        if (drivesSessions && !insecure && !call.sink().privileged()) {
            warnings.warning("unprivileged", () -> "refused procedure " + procedure + " from " + call.sink().who()
                    + ": not a privileged caller (AUTH_TOOWEAK)");
            call.replyAuthError(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK);
            return;
        }
        dispatchOncRpcCall(call.info(), call.header().program, call.header().version, call.header().procedure);
    }

    @Override
    public void dispatchOncRpcCall(OncRpcCallInformation info, int program, int version, int procedure)
            throws OncRpcException, IOException {
        if (version == rpctlssd.RPCTLSSDVERS && procedure == rpctlssd.RPCTLSSD_CONNECT_2) {
            RpcCall call = RpcCall.of(info);
            rpctlssd_connect_arg arg = new rpctlssd_connect_arg();
            info.retrieveCall(arg);
            connect(call, arg.socookie);
            return;
        }
        super.dispatchOncRpcCall(info, program, version, procedure);
    }

    @Override
    public void RPCTLSSD_NULL_2() {
        LOG.fine("rpctlssd_null_svc: done");
    }

    @Override
    public rpctlssd_connect_res RPCTLSSD_CONNECT_2(rpctlssd_connect_arg arg) {
        throw new IllegalStateException("CONNECT is dispatched to the handshake workers");
    }

    @Override
    public rpctlssd_handlerecord_res RPCTLSSD_HANDLERECORD_2(rpctlssd_handlerecord_arg arg) {
        rpctlssd_handlerecord_res res = new rpctlssd_handlerecord_res();
        res.reterr = sessions.handleRecord(arg.socookie);
        LOG.fine(() -> "rpctlssd_handlerecord cookie=" + cookie(arg.socookie) + " reterr=" + res.reterr);
        return res;
    }

    @Override
    public rpctlssd_disconnect_res RPCTLSSD_DISCONNECT_2(rpctlssd_disconnect_arg arg) {
        rpctlssd_disconnect_res res = new rpctlssd_disconnect_res();
        res.reterr = sessions.disconnect(arg.socookie);
        LOG.fine(() -> res.reterr == SessionTable.RPCTLSERR_OK
                ? "rpctlssd_disconnect cookie=" + cookie(arg.socookie) + " closed"
                : "rpctlssd_disconnect cookie=" + cookie(arg.socookie) + " unknown");
        return res;
    }

    /** The whole cookie: for -v (FINE) lines only; other lines use {@link Cookies#tag}. */
    static String cookie(long socookie) {
        return Cookies.full(socookie) + " (" + Cookies.tag(socookie) + ")";
    }

    /** CONNECT: hand the call to the workers; never blocks the receiving thread. */
    private void connect(RpcCall call, long socookie) {
        call.defer();
        long received = System.nanoTime();
        boolean queued = workers.submit(() -> runConnect(call, socookie, received));
        if (!queued) {
            warnings.warning("queue-full", () -> "rpctlssd_connect_svc: xid " + xid(call) + ": handshake queue full, refused");
            Metrics.handshakeFailed(Metrics.Failure.QUEUE_FULL, received);
            call.replyHandshakeFailed();
        } else {
            LOG.fine(() -> "rpctlsd_connect_svc: xid " + xid(call) + " queued");
        }
    }

    private void runConnect(RpcCall call, long socookie, long received) {
        Optional<SocketHandoff.Parked> claimed = handoff.claim(socookie);
        if (claimed.isEmpty()) {
            LOG.fine(() -> "rpctlssd_connect_svc: xid " + xid(call) + ": no socket for cookie " + cookie(socookie));
            Metrics.handshakeFailed(Metrics.Failure.UNKNOWN_COOKIE, received);
            call.replyHandshakeFailed();
            return;
        }
        SocketChannel socket = claimed.get().socket();
        try {
            handshaker.handshake(socket, claimed.get().client(), socookie, workers.executor(), received)
                    .whenComplete((outcome, failure) -> finish(call, socookie, socket, outcome, failure));
        } catch (RuntimeException e) {
            Metrics.handshakeFailed(Metrics.Failure.INTERNAL, received); // the handshaker threw before it could count it
            finish(call, socookie, socket, null, e);
        }
    }

    private void finish(RpcCall call, long socookie, SocketChannel socket, HandshakeOutcome outcome, Throwable failure) {
        if (failure != null || outcome == null) {
            LOG.fine(() -> "rpctlssd_connect_svc: xid " + xid(call) + ": ssl accept failed: "
                    + (failure == null ? "no outcome" : failure.getMessage()));
            Channels.closeQuietly(socket);
            call.replyHandshakeFailed(); // the handshaker counted the failure, with its reason
            return;
        }
        Session session = outcome.session();
        // The entry exists before the reply, so a HANDLERECORD or DISCONNECT right after it finds it.
        if (!sessions.put(session)) {
            LOG.warning("rpctlssd_connect_svc: xid " + xid(call) + ": " + Cookies.tag(socookie) + " already has a session");
            session.disconnect();
            call.replyAccepted(OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR);
            return;
        }
        rpctlssd_connect_res res = new rpctlssd_connect_res();
        res.flags = outcome.flags();
        res.uid = outcome.certUser() ? outcome.uid() : 0;
        res.gid = outcome.certUser() ? outcome.gids() : NO_GIDS;
        LOG.fine(() -> "rpctlssd_connect_svc: succeeded flags=0x" + Integer.toHexString(res.flags));
        if (!call.replySuccess(res)) {
            // The caller has gone and will never send DISCONNECT: do not leak the session.
            warnings.info("caller-gone", () -> "rpctlssd_connect_svc: xid " + xid(call) + ": caller gone, closing the session "
                    + Cookies.tag(socookie));
            if (sessions.remove(socookie) != null) {
                session.disconnect();
            }
        }
        LOG.fine(() -> "rpctlsd_connect_svc: xid " + xid(call) + ": thread finished");
    }

    /** The call's xid for a log line: made only when a line is written, not for every CONNECT. */
    private static String xid(RpcCall call) {
        return Integer.toUnsignedString(call.xid());
    }
}
