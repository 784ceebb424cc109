package org.rpctlsservd.service;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.server.OncRpcCallInformation;
import org.rpctlsservd.handshake.ClientTls;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Steps;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.rpc.RpcProgram;
import org.rpctlsservd.rpc.gen.rpctlscd;
import org.rpctlsservd.rpc.gen.rpctlscdServerStub;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlscd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_disconnect_res;
import org.rpctlsservd.rpc.gen.rpctlscd_handlerecord_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_handlerecord_res;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * Program RPCTLSCD version 2, rpc.tlsclntd's half, on the jrpcgen skeleton. CONNECT(socookie,
 * certname) claims the socket the connector (FreeBSD: the kernel's NFS client) parked, already
 * connected to an RFC 9289 server whose STARTTLS probe was answered, and runs the TLS client
 * handshake on the handshake workers; its reply carries reterr. Every failure is answered at once,
 * as FreeBSD's daemon answers: an unknown cookie RPCTLSERR_NOSOCKET, a failed handshake
 * RPCTLSERR_NOSSL (the socket closed), a full queue SYSTEM_ERR as the server's. HANDLERECORD and
 * DISCONNECT are RPCTLSSD's. Only privileged callers drive sessions, as on the server.
 */
public final class RpctlscdService extends rpctlscdServerStub {
    private static final Logger LOG = Logger.getLogger("rpctlscd");

    private final ClientTls tls;
    private final DeferredConnects connects;

    public RpctlscdService(SocketHandoff handoff, SessionTable sessions, HandshakeWorkers workers, ClientTls tls, boolean insecure)
            throws OncRpcException, IOException {
        // As RpctlssdService: the generated constructor binds a TCP transport that ours replace.
        super(InetAddress.getLoopbackAddress(), 0);
        close(transports);
        this.tls = tls;
        this.connects = new DeferredConnects("rpctlscd", LOG, handoff, sessions, workers, insecure);
    }

    /** This service as the dispatcher serves it: the callers it admits reach the procedures below. */
    public RpcProgram asProgram() {
        return connects.program(rpctlscd.RPCTLSCD, rpctlscd.RPCTLSCDVERS, this);
    }

    @Override
    public void dispatchOncRpcCall(OncRpcCallInformation info, int program, int version, int procedure)
            throws OncRpcException, IOException {
        if (version == rpctlscd.RPCTLSCDVERS && procedure == rpctlscd.RPCTLSCD_CONNECT_2) {
            rpctlscd_connect_arg arg = new rpctlscd_connect_arg();
            info.retrieveCall(arg);
            connects.connect(RpcCall.of(info), arg.socookie, new Connecting(arg.certname == null ? "" : arg.certname));
            return;
        }
        super.dispatchOncRpcCall(info, program, version, procedure);
    }

    @Override
    public void RPCTLSCD_NULL_2() {
        LOG.fine("rpctlscd_null: done");
    }

    @Override
    public rpctlscd_connect_res RPCTLSCD_CONNECT_2(rpctlscd_connect_arg arg) {
        throw new IllegalStateException("CONNECT is dispatched to the handshake workers");
    }

    @Override
    public rpctlscd_handlerecord_res RPCTLSCD_HANDLERECORD_2(rpctlscd_handlerecord_arg arg) {
        rpctlscd_handlerecord_res res = new rpctlscd_handlerecord_res();
        res.reterr = connects.handleRecord(arg.socookie);
        return res;
    }

    @Override
    public rpctlscd_disconnect_res RPCTLSCD_DISCONNECT_2(rpctlscd_disconnect_arg arg) {
        rpctlscd_disconnect_res res = new rpctlscd_disconnect_res();
        res.reterr = connects.disconnect(arg.socookie);
        return res;
    }

    /** The name the server's certificate must match: the parker's, else the peer's IP literal. */
    static String serverName(SocketHandoff.Parked parked) {
        if (parked.serverName() != null) {
            return parked.serverName();
        }
        try {
            InetAddress peer = ((InetSocketAddress) parked.socket().getRemoteAddress()).getAddress();
            String literal = peer.getHostAddress();
            int scope = literal.indexOf('%');
            return scope < 0 ? literal : literal.substring(0, scope);
        } catch (IOException e) {
            throw new UncheckedIOException("the parked socket has no peer", e);
        }
    }

    /** RPCTLSCD's part of one CONNECT: the client handshake with this call's certname, and reterr replies. */
    private final class Connecting implements DeferredConnects.Side {
        private final String certName;

        Connecting(String certName) {
            this.certName = certName;
        }

        @Override
        public CompletionStage<HandshakeOutcome> handshake(SocketHandoff.Parked parked, long socookie, Steps steps, long receivedNanos) {
            return tls.connect(parked.socket(), serverName(parked), certName, socookie, steps, receivedNanos);
        }

        @Override
        public void refuse(RpcCall call, DeferredConnects.Refusal why) {
            switch (why) {
                case NO_SOCKET -> reply(call, rpctlssd.RPCTLSERR_NOSOCKET);
                case FAILED -> reply(call, rpctlssd.RPCTLSERR_NOSSL);
                default -> call.replyHandshakeFailed(); // a full queue, a duplicate cookie: SYSTEM_ERR, as the server's
            }
        }

        @Override
        public boolean succeed(RpcCall call, HandshakeOutcome outcome) {
            return reply(call, rpctlssd.RPCTLSERR_OK);
        }

        private boolean reply(RpcCall call, int reterr) {
            rpctlscd_connect_res res = new rpctlscd_connect_res();
            res.reterr = reterr;
            return call.replySuccess(res);
        }
    }
}
