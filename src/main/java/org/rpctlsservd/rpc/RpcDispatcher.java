package org.rpctlsservd.rpc;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntPredicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.server.OncRpcCallInformation;
import org.acplt.oncrpc.server.OncRpcDispatchable;

/**
 * Turns one received record into one call of a served program, answering every malformed or
 * misdirected call as RFC 5531 prescribes: RPC_MISMATCH, AUTH_ERROR, PROG_UNAVAIL,
 * PROG_MISMATCH, PROC_UNAVAIL (from the program) and GARBAGE_ARGS. Records that are not calls,
 * or too short to carry an xid and header, are dropped: there is nothing to answer.
 */
public final class RpcDispatcher {
    private static final Logger LOG = Logger.getLogger(RpcDispatcher.class.getName());
    /** AUTH_NONE and AUTH_SYS: the flavors a plain RPC service accepts. */
    public static final IntPredicate NONE_OR_SYS =
            f -> f == OncRpcAuthType.ONCRPC_AUTH_NONE || f == OncRpcAuthType.ONCRPC_AUTH_UNIX;

    private final Map<Integer, RpcProgram> programs = new ConcurrentHashMap<>();
    private final IntPredicate flavors;
    /** Remote Tea's call information wants a dispatcher; calls never go back through it. */
    private static final OncRpcDispatchable UNUSED = (OncRpcCallInformation c, int p, int v, int q) -> {
        throw new IllegalStateException("not used");
    };

    public RpcDispatcher(IntPredicate flavors) {
        this.flavors = flavors;
    }

    public RpcDispatcher add(RpcProgram program) {
        programs.put(program.program(), program);
        return this;
    }

    /** Handles one complete record of {@code length} bytes from {@code sink}'s caller. */
    public void handle(byte[] record, int length, ReplySink sink) {
        XdrReader r = new XdrReader(record, 0, length);
        CallHeader h = CallHeader.decode(r, flavors);
        if (h.problem == CallHeader.Problem.NONE) {
            h.decodeAuthSys(record);
        }
        switch (h.problem) {
            case NOT_A_CALL:
            case TRUNCATED:
                LOG.fine(() -> "dropped a " + length + "-byte record from " + sink.who() + ": " + h.problem);
                return;
            default:
                break;
        }
        RpcCall call = new RpcCall(UNUSED, sink, h, r);
        switch (h.problem) {
            case RPC_MISMATCH:
                call.replyRpcMismatch();
                return;
            case BAD_CRED:
            case BAD_VERF:
            case REJECTED_CRED:
                call.replyAuthError(h.authStatus());
                return;
            default:
                break;
        }
        RpcProgram program = programs.get(h.program);
        if (program == null) {
            call.replyAccepted(OncRpcAcceptStatus.ONCRPC_PROG_UNAVAIL);
            return;
        }
        if (h.version < program.lowVersion() || h.version > program.highVersion()) {
            call.replyProgramMismatch(program.lowVersion(), program.highVersion());
            return;
        }
        try {
            program.dispatch(call);
        } catch (RpcCall.GarbageArgumentsException e) {
            LOG.fine(() -> "xid " + Integer.toUnsignedString(h.xid) + " from " + sink.who() + ": " + e.getMessage());
            call.replyAccepted(OncRpcAcceptStatus.ONCRPC_GARBAGE_ARGS);
            return;
        } catch (OncRpcException | IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "xid " + Integer.toUnsignedString(h.xid) + ": procedure " + h.procedure + " failed", e);
            call.replyAccepted(OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR);
            return;
        }
        if (!call.isAnswered() && !call.isDeferred()) {
            // A program that neither answered nor deferred would leave its caller waiting.
            LOG.warning("xid " + Integer.toUnsignedString(h.xid) + ": procedure " + h.procedure + " gave no reply");
            call.replyAccepted(OncRpcAcceptStatus.ONCRPC_SYSTEM_ERR);
        }
    }
}
