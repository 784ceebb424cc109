package org.rpctlsservd.service;

import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.CompletionStage;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.server.OncRpcCallInformation;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Handshaker;
import org.rpctlsservd.handshake.Steps;
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
public final class RpctlssdService extends rpctlssdServerStub {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final Handshaker handshaker;
    private final DeferredConnects connects;
    private final DeferredConnects.Side connecting = new Connecting();
    /** The groups of a CONNECT result without a certificate user: only ever encoded, so one empty array for all. */
    private static final int[] NO_GIDS = new int[0];

    public RpctlssdService(SocketHandoff handoff, SessionTable sessions, HandshakeWorkers workers, Handshaker handshaker,
            boolean insecure) throws OncRpcException, IOException {
        // The generated constructor always binds a TCP transport; ours serve the calls, so it is
        // bound to an ephemeral loopback port and closed at once.
        super(InetAddress.getLoopbackAddress(), 0);
        close(transports);
        this.handshaker = handshaker;
        this.connects = new DeferredConnects("rpctlssd", LOG, handoff, sessions, workers, insecure);
    }

    /** This service as the dispatcher serves it: the callers it admits reach the procedures below. */
    public RpcProgram asProgram() {
        return connects.program(rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, this);
    }

    @Override
    public void dispatchOncRpcCall(OncRpcCallInformation info, int program, int version, int procedure)
            throws OncRpcException, IOException {
        if (version == rpctlssd.RPCTLSSDVERS && procedure == rpctlssd.RPCTLSSD_CONNECT_2) {
            rpctlssd_connect_arg arg = new rpctlssd_connect_arg();
            info.retrieveCall(arg);
            connects.connect(RpcCall.of(info), arg.socookie, connecting);
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
        res.reterr = connects.handleRecord(arg.socookie);
        return res;
    }

    @Override
    public rpctlssd_disconnect_res RPCTLSSD_DISCONNECT_2(rpctlssd_disconnect_arg arg) {
        rpctlssd_disconnect_res res = new rpctlssd_disconnect_res();
        res.reterr = connects.disconnect(arg.socookie);
        return res;
    }

    /** RPCTLSSD's part of CONNECT: the server handshake, and its replies. */
    private final class Connecting implements DeferredConnects.Side {
        @Override
        public CompletionStage<HandshakeOutcome> handshake(SocketHandoff.Parked parked, long socookie, Steps steps, long receivedNanos) {
            return handshaker.handshake(parked.socket(), parked.client(), socookie, steps, receivedNanos);
        }

        /** Unlike the C daemon, every failure is answered at once: SYSTEM_ERR, so no caller waits for its timeout. */
        @Override
        public void refuse(RpcCall call, DeferredConnects.Refusal why) {
            if (why == DeferredConnects.Refusal.DUPLICATE) {
                call.replyAccepted(OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR);
            } else {
                call.replyHandshakeFailed();
            }
        }

        @Override
        public boolean succeed(RpcCall call, HandshakeOutcome outcome) {
            rpctlssd_connect_res res = new rpctlssd_connect_res();
            res.flags = outcome.flags();
            res.uid = outcome.certUser() ? outcome.uid() : 0;
            res.gid = outcome.certUser() ? outcome.gids() : NO_GIDS;
            return call.replySuccess(res);
        }
    }
}
