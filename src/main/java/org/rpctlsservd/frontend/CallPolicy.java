package org.rpctlsservd.frontend;

import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.rpc.CallHeader;

/**
 * What the front end does with one record from a client, as the FreeBSD kernel decides it: a pure
 * function of the record's header, what the connection has reached (plain or TLS, and the
 * CONNECT result's flags) and --require. No sockets, no state: the connection acts on the answer.
 */
final class CallPolicy {
    private CallPolicy() {
    }

    enum Action {
        /** Pass the record to the backend as it is. */
        RELAY,
        /** Pass it on with its AUTH_SYS credential replaced by the certificate's user (CERTUSER). */
        RELAY_AS_CERTIFICATE_USER,
        /** Answer it here with AUTH_ERROR and {@link Decision#authStat}. */
        REFUSE,
        /** The STARTTLS probe: answer it and start the handshake. */
        START_TLS,
        /** Neither a call nor a reply: dropped. */
        DROP,
    }

    record Decision(Action action, int authStat) {
        static final Decision RELAY = new Decision(Action.RELAY, 0);
        static final Decision CERTUSER = new Decision(Action.RELAY_AS_CERTIFICATE_USER, 0);
        static final Decision START_TLS = new Decision(Action.START_TLS, 0);
        static final Decision DROP = new Decision(Action.DROP, 0);

        static Decision refuse(int authStat) {
            return new Decision(Action.REFUSE, authStat);
        }
    }

    /**
     * @param h            the record's decoded header
     * @param nothingAfter true when the call has no bytes after its verifier (a probe has none)
     * @param tls          the connection finished its handshake
     * @param flags        the CONNECT result's flags (TLS connections only)
     * @param probeWelcome a STARTTLS probe may start TLS now (plain, and no probe answered yet)
     */
    static Decision decide(CallHeader h, boolean nothingAfter, boolean tls, int flags, boolean probeWelcome, Config.Require require) {
        switch (h.problem) {
            case NOT_A_CALL:
                return h.messageType == 1 ? Decision.RELAY : Decision.DROP; // a reply to one of the backend's callbacks
            case TRUNCATED:
            case RPC_MISMATCH:
                return Decision.RELAY; // the backend answers what it makes of it
            case BAD_CRED:
            case BAD_VERF:
                return Decision.refuse(h.authStatus());
            default:
                break;
        }
        if (h.credFlavor == CallHeader.AUTH_TLS) {
            boolean probe = probeWelcome && h.procedure == 0 && h.credLength == 0
                    && h.verfFlavor == OncRpcAuthType.ONCRPC_AUTH_NONE && h.verfLength == 0 && nothingAfter;
            return probe ? Decision.START_TLS : Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_BADCRED);
        }
        boolean disabled = tls && (flags & HandshakeOutcome.FLAGS_DISABLED) != 0;
        if (disabled && (h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX || h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_SHORT
                || h.credFlavor == CallHeader.RPCSEC_GSS)) {
            return Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDCRED);
        }
        if (h.procedure != 0 && level(tls, flags).ordinal() < require.ordinal()) {
            return Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK);
        }
        if (tls && h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX
                && (flags & (HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_CERTUSER) {
            return Decision.CERTUSER;
        }
        return Decision.RELAY;
    }

    /** What a connection has reached, in --require's terms. */
    static Config.Require level(boolean tls, int flags) {
        if (!tls) {
            return Config.Require.NONE;
        }
        if ((flags & (HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_CERTUSER) {
            return Config.Require.CERTUSER;
        }
        if ((flags & HandshakeOutcome.FLAGS_VERIFIED) != 0) {
            return Config.Require.CERT;
        }
        return Config.Require.TLS;
    }
}
