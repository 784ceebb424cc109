package org.rpctlsservd.frontend;

import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcAuthType;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.metrics.Metrics.Refusal;
import org.rpctlsservd.rpc.AuthSys;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.XdrWriter;

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
        /** Not passed on, not answered: neither a call nor a reply, or (with {@link Decision#why}) a record the connection may not send yet. */
        DROP,
    }

    /** {@code why}: for REFUSE, and for a DROP the requirement caused, the reason to log and count; else null. */
    record Decision(Action action, int authStat, Refusal why) {
        static final Decision RELAY = new Decision(Action.RELAY, 0, null);
        static final Decision CERTUSER = new Decision(Action.RELAY_AS_CERTIFICATE_USER, 0, null);
        static final Decision START_TLS = new Decision(Action.START_TLS, 0, null);
        static final Decision DROP = new Decision(Action.DROP, 0, null);

        static Decision refuse(int authStat, Refusal why) {
            return new Decision(Action.REFUSE, authStat, why);
        }

        static Decision drop(Refusal why) {
            return new Decision(Action.DROP, 0, why);
        }
    }

    /**
     * @param h            the record's decoded header
     * @param nothingAfter true when the call has no bytes after its verifier (a probe has none)
     * @param tls          the connection finished its handshake
     * @param flags        the CONNECT result's flags (TLS connections only)
     * @param probeWelcome a STARTTLS probe may start TLS now (plain, and no probe answered yet)
     */
    static Decision decide(CallHeader h, boolean nothingAfter, boolean tls, int flags, boolean probeWelcome, Require require) {
        boolean below = level(tls, flags).ordinal() < require.ordinal();
        switch (h.problem) {
            case NOT_A_CALL:
                if (h.messageType != 1) {
                    return Decision.DROP;
                }
                // A reply to one of the backend's callbacks: below the requirement nothing but a NULL call
                // reaches the backend, and a reply is no call. A DISABLED connection's replies follow its
                // level like the rest (tls: they pass under none and tls, as before): a reply carries no
                // credential for the DISABLED rule, which judges credentials, to refuse.
                return below ? Decision.drop(shortOf(tls, flags)) : Decision.RELAY;
            case TRUNCATED:
            case RPC_MISMATCH:
                // the backend answers what it makes of it, once the connection may reach it: this cannot be a NULL call
                return below ? Decision.drop(shortOf(tls, flags)) : Decision.RELAY;
            case BAD_CRED:
            case BAD_VERF:
                return Decision.refuse(h.authStatus(), Refusal.BAD_CREDENTIAL);
            default:
                break;
        }
        if (h.credFlavor == CallHeader.AUTH_TLS) {
            boolean probe = probeWelcome && h.procedure == 0 && h.credLength == 0
                    && h.verfFlavor == OncRpcAuthType.ONCRPC_AUTH_NONE && h.verfLength == 0 && nothingAfter;
            return probe ? Decision.START_TLS : Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_BADCRED, Refusal.BAD_CREDENTIAL);
        }
        boolean disabled = tls && (flags & HandshakeOutcome.FLAGS_DISABLED) != 0;
        if (disabled && (h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX || h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_SHORT
                || h.credFlavor == CallHeader.RPCSEC_GSS)) {
            return Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDCRED, Refusal.DISABLED);
        }
        if (h.procedure != 0 && below) {
            return Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, shortOf(tls, flags));
        }
        if (tls && h.credFlavor == OncRpcAuthType.ONCRPC_AUTH_UNIX
                && (flags & (HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_DISABLED)) == HandshakeOutcome.FLAGS_CERTUSER) {
            return Decision.CERTUSER;
        }
        return Decision.RELAY;
    }

    /**
     * The call with its AUTH_SYS credential replaced by the certificate's user, as the kernel's
     * CERTUSER mapping does: {@code uid}, the first of {@code gids} as the primary group and the rest
     * as supplementary groups, at most {@link CallHeader#MAX_AUTH_SYS_GIDS} of them (the first ones);
     * the stamp and machine name are kept, and every byte before and after the credential too.
     *
     * @param h the record's header, its AUTH_SYS credential decoded ({@link CallHeader#decodeAuthSys})
     */
    static byte[] asCertificateUser(byte[] rec, CallHeader h, int uid, int[] gids) {
        int primary = gids.length > 0 ? gids[0] : 0;
        int supplementary = Math.min(Math.max(gids.length - 1, 0), CallHeader.MAX_AUTH_SYS_GIDS);
        int[] rest = supplementary == 0 ? new int[0] : java.util.Arrays.copyOfRange(gids, 1, 1 + supplementary);
        XdrWriter body = new XdrWriter(128);
        new AuthSys(h.authSys.stamp, h.authSys.machineName, uid, primary, rest).encodeBody(body);
        byte[] b = body.toByteArray();
        int credStart = h.credOffset - 8; // the flavor and length words before the credential's body
        int afterCred = h.credOffset + ((h.credLength + 3) & ~3);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(credStart + 8 + b.length + (rec.length - afterCred));
        out.put(rec, 0, credStart).putInt(OncRpcAuthType.ONCRPC_AUTH_UNIX).putInt(b.length).put(b);
        out.put(rec, afterCred, rec.length - afterCred);
        return out.array();
    }

    /** True when {@link #asCertificateUser} leaves some of {@code gids} out (the caller says so once). */
    static boolean groupsTrimmed(int[] gids) {
        return gids.length - 1 > CallHeader.MAX_AUTH_SYS_GIDS;
    }

    /**
     * Why a connection is below a --require level above {@code none}: the first thing it lacks, as far
     * as the flags tell. NOT_VERIFIED covers a certificate the allow-list refused too (the flags do not
     * say which; the session's {@link org.rpctlsservd.certs.TrustMaterial.Verification} does).
     */
    static Refusal shortOf(boolean tls, int flags) {
        if (!tls) {
            return Refusal.NO_TLS;
        }
        if ((flags & HandshakeOutcome.FLAGS_GOTCERT) == 0) {
            return Refusal.NO_CERTIFICATE;
        }
        if ((flags & HandshakeOutcome.FLAGS_VERIFIED) == 0) {
            return Refusal.NOT_VERIFIED;
        }
        return (flags & HandshakeOutcome.FLAGS_DISABLED) != 0 ? Refusal.DISABLED : Refusal.NO_USER;
    }

    /**
     * What a connection has reached, in --require's terms. {@code cert} and {@code certuser} mean every
     * check passed: a DISABLED connection (its host check failed, say) counts as {@code tls} only, even
     * though the kernel's own rule lets its AUTH_NONE calls through (which stays so for {@code none} and
     * {@code tls}); {@code certuser} needs a verified certificate too, not the CERTUSER bit alone.
     */
    static Require level(boolean tls, int flags) {
        if (!tls) {
            return Require.NONE;
        }
        if ((flags & (HandshakeOutcome.FLAGS_VERIFIED | HandshakeOutcome.FLAGS_DISABLED)) != HandshakeOutcome.FLAGS_VERIFIED) {
            return Require.TLS;
        }
        return (flags & HandshakeOutcome.FLAGS_CERTUSER) != 0 ? Require.CERTUSER : Require.CERT;
    }
}
