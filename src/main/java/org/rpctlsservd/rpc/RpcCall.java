package org.rpctlsservd.rpc;

import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcReplyStatus;
import org.acplt.oncrpc.XdrAble;
import org.acplt.oncrpc.XdrDecodingStream;
import org.acplt.oncrpc.XdrEncodingStream;
import org.acplt.oncrpc.server.OncRpcCallInformation;
import org.acplt.oncrpc.server.OncRpcDispatchable;
import org.acplt.oncrpc.server.OncRpcServerReplyMessage;
import org.acplt.oncrpc.server.OncRpcServerTransport;
import org.acplt.oncrpc.server.OncRpcServerTransportRegistrationInfo;

/**
 * One call, from decoding to its single reply. Remote Tea's generated dispatch talks to a
 * transport through an {@link OncRpcCallInformation}; the stock transports share one such object
 * (and one send buffer) per connection, which makes replies from other threads unsafe. Here every
 * call gets its own transport object and call information, so a reply may be sent later from any
 * thread, exactly once, with this call's xid.
 */
public final class RpcCall extends OncRpcServerTransport {
    private static final Logger LOG = Logger.getLogger(RpcCall.class.getName());
    private static final OncRpcServerTransportRegistrationInfo[] NO_INFO = {};

    private final ReplySink sink;
    private final XdrReader args;
    private final CallHeader header;
    private final Info info;
    private final AtomicBoolean answered = new AtomicBoolean();
    private volatile boolean deferred;

    /** The call information the generated dispatch code receives; it leads back to its call. */
    public static final class Info extends OncRpcCallInformation {
        final RpcCall call;

        Info(RpcCall call) {
            super(call);
            this.call = call;
        }

        public RpcCall call() {
            return call;
        }
    }

    RpcCall(OncRpcDispatchable dispatcher, ReplySink sink, CallHeader header, XdrReader args) {
        super(dispatcher, 0, NO_INFO);
        this.sink = sink;
        this.header = header;
        this.args = args;
        this.info = new Info(this);
        info.callMessage.messageId = header.xid;
        info.callMessage.messageType = CallHeader.CALL;
        info.callMessage.oncRpcVersion = header.rpcVersion;
        info.callMessage.program = header.program;
        info.callMessage.version = header.version;
        info.callMessage.procedure = header.procedure;
        // callMessage.auth stays null: every reply then carries an AUTH_NONE verifier.
        InetAddress address = sink.peer() == null ? null : sink.peer().getAddress();
        info.peerAddress = address;
        info.peerPort = sink.peer() == null ? 0 : sink.peer().getPort();
    }

    public static RpcCall of(OncRpcCallInformation info) {
        return ((Info) info).call;
    }

    public OncRpcCallInformation info() {
        return info;
    }

    public CallHeader header() {
        return header;
    }

    public int xid() {
        return header.xid;
    }

    public ReplySink sink() {
        return sink;
    }

    public boolean isAnswered() {
        return answered.get();
    }

    public boolean isDeferred() {
        return deferred;
    }

    /** Marks the call as answered later; the sink keeps the caller's connection until then. */
    public void defer() {
        if (!deferred) {
            deferred = true;
            sink.owed(1);
        }
    }

    /** Sends a SUCCESS reply with {@code result}; returns false when the caller has gone. */
    public boolean replySuccess(XdrAble result) {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                OncRpcAcceptStatus.ONCRPC_SUCCESS, 0, 0, 0, 0), result);
    }

    /** Sends MSG_ACCEPTED with a non-SUCCESS accept status (SYSTEM_ERR, GARBAGE_ARGS, ...). */
    public boolean replyAccepted(int acceptStatus) {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                acceptStatus, 0, 0, 0, 0), null);
    }

    /**
     * SYSTEM_ERR to a CONNECT whose handshake failed or never started: that is counted once, in
     * rpctlssd_handshakes_total{result="failed"}, so not again in rpctlssd_rpc_rejects_total (kept
     * for calls the RPC layer refused).
     */
    public boolean replyHandshakeFailed() {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR, 0, 0, 0, 0), null, false);
    }

    public boolean replyProgramMismatch(int low, int high) {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                OncRpcAcceptStatus.ONCRPC_PROG_MISMATCH, 0, low, high, 0), null);
    }

    public boolean replyRpcMismatch() {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_DENIED,
                0, org.acplt.oncrpc.OncRpcRejectStatus.ONCRPC_RPC_MISMATCH, CallHeader.RPC_VERSION,
                CallHeader.RPC_VERSION, 0), null);
    }

    public boolean replyAuthError(int authStatus) {
        return send(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_DENIED,
                0, org.acplt.oncrpc.OncRpcRejectStatus.ONCRPC_AUTH_ERROR, 0, 0, authStatus), null);
    }

    private boolean send(OncRpcServerReplyMessage state, XdrAble result) {
        return send(state, result, true);
    }

    private boolean send(OncRpcServerReplyMessage state, XdrAble result, boolean counted) {
        XdrWriter w;
        try {
            w = RpcMessages.reply(state, result, counted);
        } catch (OncRpcException | IOException | RuntimeException e) {
            // The result could not be encoded: the caller still gets an answer.
            LOG.log(Level.WARNING, "xid " + Integer.toUnsignedString(header.xid) + ": cannot encode reply", e);
            try {
                w = RpcMessages.reply(new OncRpcServerReplyMessage(info.callMessage, OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED,
                        OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR, 0, 0, 0, 0), null);
            } catch (OncRpcException | IOException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
        if (!answered.compareAndSet(false, true)) {
            LOG.fine(() -> "xid " + Integer.toUnsignedString(header.xid) + ": second reply dropped");
            return false;
        }
        try {
            return sink.send(w);
        } finally {
            if (deferred) {
                sink.owed(-1);
            }
        }
    }

    /** Thrown by {@link #retrieveCall} for short or trailing arguments: the reply is GARBAGE_ARGS. */
    public static final class GarbageArgumentsException extends OncRpcException {
        private static final long serialVersionUID = 1L;

        GarbageArgumentsException(String message) {
            super(message);
        }
    }

    // --- OncRpcServerTransport, as the generated dispatch code uses it ---

    @Override
    protected void retrieveCall(XdrAble call) throws OncRpcException {
        try {
            call.xdrDecode(args);
        } catch (OncRpcException | IOException | RuntimeException e) {
            throw new GarbageArgumentsException("arguments do not decode: " + e.getMessage());
        }
        if (args.remaining() != 0) {
            throw new GarbageArgumentsException(args.remaining() + " bytes after the arguments");
        }
    }

    @Override
    protected void reply(OncRpcCallInformation callInfo, OncRpcServerReplyMessage state, XdrAble reply) {
        send(state, reply);
    }

    @Override
    protected XdrDecodingStream getXdrDecodingStream() {
        return args;
    }

    @Override
    protected void endDecoding() {
    }

    @Override
    protected XdrEncodingStream getXdrEncodingStream() {
        throw new UnsupportedOperationException("replies go through reply()");
    }

    @Override
    protected void beginEncoding(OncRpcCallInformation callInfo, OncRpcServerReplyMessage state) {
        throw new UnsupportedOperationException("replies go through reply()");
    }

    @Override
    protected void endEncoding() {
        throw new UnsupportedOperationException("replies go through reply()");
    }

    @Override
    public void register() {
    }

    @Override
    public void close() {
    }

    @Override
    public void listen() {
    }

    @Override
    public void setCharacterEncoding(String characterEncoding) {
    }

    @Override
    public String getCharacterEncoding() {
        return "UTF-8";
    }
}
