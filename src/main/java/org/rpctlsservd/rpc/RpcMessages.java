package org.rpctlsservd.rpc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.acplt.oncrpc.OncRpcClientAuthNone;
import org.acplt.oncrpc.OncRpcClientCallMessage;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcRejectStatus;
import org.acplt.oncrpc.OncRpcReplyStatus;
import org.acplt.oncrpc.XdrAble;
import org.acplt.oncrpc.XdrDecodingStream;
import org.acplt.oncrpc.XdrEncodingStream;
import org.acplt.oncrpc.server.OncRpcServerAuth;
import org.acplt.oncrpc.server.OncRpcServerCallMessage;
import org.acplt.oncrpc.server.OncRpcServerReplyMessage;
import org.rpctlsservd.metrics.Metrics;

/**
 * Every RPC message the project writes (RFC 5531), in one place, on Remote Tea's message classes:
 * the calls of the upcall client, the service's replies, and the front end's own replies (the
 * STARTTLS answer of RFC 9289 section 4.1 and AUTH_ERROR). Each is written into an
 * {@link XdrWriter}, which keeps room for the record mark in front.
 */
public final class RpcMessages {
    private static final byte[] STARTTLS = "STARTTLS".getBytes(StandardCharsets.US_ASCII);

    private RpcMessages() {
    }

    /** A call with AUTH_NONE credential and verifier, then {@code args}. */
    public static XdrWriter call(int xid, int program, int version, int procedure, XdrAble args) throws OncRpcException, IOException {
        XdrWriter w = new XdrWriter(128);
        new OncRpcClientCallMessage(xid, program, version, procedure, OncRpcClientAuthNone.AUTH_NONE).xdrEncode(w);
        args.xdrEncode(w);
        return w;
    }

    /** A reply to {@code call} in the state {@code reply} says, then {@code result} (null: none); counted when not SUCCESS. */
    static XdrWriter reply(OncRpcServerReplyMessage reply, XdrAble result) throws OncRpcException, IOException {
        return reply(reply, result, true);
    }

    /** As {@link #reply(OncRpcServerReplyMessage, XdrAble)}; {@code counted} false when another counter has this event already. */
    static XdrWriter reply(OncRpcServerReplyMessage reply, XdrAble result, boolean counted) throws OncRpcException, IOException {
        if (counted) {
            Metrics.reply(reply.replyStatus, reply.acceptStatus, reply.rejectStatus, reply.authStatus);
        }
        XdrWriter w = new XdrWriter(128);
        reply.xdrEncode(w);
        if (result != null) {
            result.xdrEncode(w);
        }
        return w;
    }

    /** MSG_DENIED / AUTH_ERROR with {@code authStatus}, to call {@code xid}. */
    public static byte[] authError(int xid, int authStatus) {
        return bytes(new OncRpcServerReplyMessage(callFor(xid, null), OncRpcReplyStatus.ONCRPC_MSG_DENIED, 0,
                OncRpcRejectStatus.ONCRPC_AUTH_ERROR, 0, 0, authStatus));
    }

    /** RFC 9289 section 4.1: MSG_ACCEPTED, SUCCESS, and an AUTH_NONE verifier whose body is "STARTTLS". */
    public static byte[] startTls(int xid) {
        return bytes(new OncRpcServerReplyMessage(callFor(xid, STARTTLS_VERIFIER), OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                OncRpcAcceptStatus.ONCRPC_SUCCESS, 0, 0, 0, 0));
    }

    private static OncRpcServerCallMessage callFor(int xid, OncRpcServerAuth verifier) {
        OncRpcServerCallMessage call = new OncRpcServerCallMessage(null);
        call.messageId = xid;
        call.auth = verifier; // null: an empty AUTH_NONE verifier
        return call;
    }

    private static byte[] bytes(OncRpcServerReplyMessage m) {
        try {
            return reply(m, null).toByteArray();
        } catch (OncRpcException | IOException e) {
            throw new IllegalStateException("encoding into memory cannot fail", e);
        }
    }

    /** The verifier of the STARTTLS reply: flavor AUTH_NONE with an 8-byte body. */
    private static final OncRpcServerAuth STARTTLS_VERIFIER = new OncRpcServerAuth() {
        @Override
        public int getAuthenticationType() {
            return OncRpcAuthType.ONCRPC_AUTH_NONE;
        }

        @Override
        public void xdrDecodeCredVerf(XdrDecodingStream xdr) {
            throw new UnsupportedOperationException("replies only");
        }

        @Override
        public void xdrEncodeVerf(XdrEncodingStream xdr) throws OncRpcException, IOException {
            xdr.xdrEncodeInt(OncRpcAuthType.ONCRPC_AUTH_NONE);
            xdr.xdrEncodeDynamicOpaque(STARTTLS);
        }
    };
}
