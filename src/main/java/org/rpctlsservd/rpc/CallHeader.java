package org.rpctlsservd.rpc;

import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.acplt.oncrpc.OncRpcException;

/**
 * The header of an ONC-RPC call message (RFC 5531 section 9), decoded with bounds on every length
 * taken from the wire. Decoding stops at the first problem and says which reply it calls for.
 */
public final class CallHeader {
    public static final int CALL = 0;
    public static final int RPC_VERSION = 2;
    /** RFC 5531: an opaque_auth body is at most 400 bytes. */
    public static final int MAX_AUTH_BYTES = 400;
    /** RFC 5531 appendix A: an AUTH_SYS machine name is at most 255 bytes, with at most 16 gids. */
    public static final int MAX_MACHINE_NAME = 255;
    public static final int MAX_AUTH_SYS_GIDS = 16;
    public static final int AUTH_TLS = 7;
    public static final int RPCSEC_GSS = 6;

    /** What decoding found, in the order RFC 5531 answers it. */
    public enum Problem {
        NONE, NOT_A_CALL, TRUNCATED, RPC_MISMATCH, BAD_CRED, BAD_VERF, REJECTED_CRED
    }

    public int xid;
    public int messageType;
    public int rpcVersion;
    public int program;
    public int version;
    public int procedure;
    public int credFlavor;
    /** Offset and length of the credential body within the record. */
    public int credOffset;
    public int credLength;
    public int verfFlavor;
    public int verfOffset;
    public int verfLength;
    /** Offset of the first argument byte within the record. */
    public int argsOffset;
    /** Decoded AUTH_SYS credential, or null for other flavors. */
    public AuthSys authSys;
    public Problem problem = Problem.NONE;

    /** The RFC 5531 auth_stat for an authentication problem. */
    public int authStatus() {
        switch (problem) {
            case BAD_CRED: return OncRpcAuthStatus.ONCRPC_AUTH_BADCRED;
            case BAD_VERF: return OncRpcAuthStatus.ONCRPC_AUTH_BADVERF;
            case REJECTED_CRED: return OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDCRED;
            default: throw new IllegalStateException("not an authentication problem: " + problem);
        }
    }

    /**
     * Decodes the header at the reader's position; the reader is left at the first argument byte.
     * {@code flavorAccepted} says which credential flavors the caller serves (others get
     * AUTH_REJECTEDCRED).
     */
    public static CallHeader decode(XdrReader r, java.util.function.IntPredicate flavorAccepted) {
        CallHeader h = new CallHeader();
        try {
            if (r.remaining() < 8) {
                h.problem = Problem.TRUNCATED;
                return h;
            }
            h.xid = r.xdrDecodeInt();
            h.messageType = r.xdrDecodeInt();
            if (h.messageType != CALL) {
                h.problem = Problem.NOT_A_CALL;
                return h;
            }
            if (r.remaining() < 16) {
                h.problem = Problem.TRUNCATED;
                return h;
            }
            h.rpcVersion = r.xdrDecodeInt();
            h.program = r.xdrDecodeInt();
            h.version = r.xdrDecodeInt();
            h.procedure = r.xdrDecodeInt();
            if (h.rpcVersion != RPC_VERSION) {
                h.problem = Problem.RPC_MISMATCH;
                return h;
            }
        } catch (OncRpcException e) {
            h.problem = Problem.TRUNCATED;
            return h;
        }
        try {
            h.credFlavor = r.xdrDecodeInt();
            h.credLength = r.xdrDecodeInt();
            if (h.credLength < 0 || h.credLength > MAX_AUTH_BYTES) {
                h.problem = Problem.BAD_CRED;
                return h;
            }
            h.credOffset = r.position();
            r.skipOpaque(h.credLength);
        } catch (OncRpcException e) {
            h.problem = Problem.BAD_CRED;
            return h;
        }
        try {
            h.verfFlavor = r.xdrDecodeInt();
            h.verfLength = r.xdrDecodeInt();
            if (h.verfLength < 0 || h.verfLength > MAX_AUTH_BYTES) {
                h.problem = Problem.BAD_VERF;
                return h;
            }
            h.verfOffset = r.position();
            r.skipOpaque(h.verfLength);
        } catch (OncRpcException e) {
            h.problem = Problem.BAD_VERF;
            return h;
        }
        h.argsOffset = r.position();
        if (!flavorAccepted.test(h.credFlavor)) {
            h.problem = Problem.REJECTED_CRED;
            return h;
        }
        return h;
    }

    /** Decodes the AUTH_SYS body of {@code record}; sets BAD_CRED when it is malformed. */
    public void decodeAuthSys(byte[] record) {
        if (credFlavor != OncRpcAuthType.ONCRPC_AUTH_UNIX) {
            return;
        }
        authSys = AuthSys.decode(record, credOffset, credLength);
        if (authSys == null) {
            problem = Problem.BAD_CRED;
        }
    }
}
