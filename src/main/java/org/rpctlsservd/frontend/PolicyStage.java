package org.rpctlsservd.frontend;

import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.StringJoiner;
import java.util.function.BooleanSupplier;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.metrics.Metrics.Refusal;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.RpcMessages;
import org.rpctlsservd.rpc.XdrReader;

/**
 * The call policy applied to each record from the client: {@link CallPolicy} decides (a pure
 * function of the call header, the connection's flags and --require); this stage does what it
 * decided: relay, relay as the certificate's user, answer the STARTTLS probe, refuse with an
 * AUTH_ERROR, or drop; and says so ({@link Refusals}).
 */
final class PolicyStage implements CallFraming.Records {
    private final Connection c;
    private final TlsRecords tls;
    private final ClientReplies replies;
    private final BackendRelay relay;
    /** True while the record handed on has bytes after it (sent after the probe, before its reply). */
    private final BooleanSupplier midRecord;
    /** The STARTTLS probe was answered (its reply may still wait among our own replies): no second one. */
    private boolean probeAnswered;
    private boolean trimLogged;

    PolicyStage(Connection c, TlsRecords tls, ClientReplies replies, BackendRelay relay, BooleanSupplier midRecord) {
        this.c = c;
        this.tls = tls;
        this.replies = replies;
        this.relay = relay;
        this.midRecord = midRecord;
    }

    /** One whole record from the client. */
    @Override
    public void record(byte[] rec) {
        if (c.closed()) {
            return;
        }
        XdrReader r = new XdrReader(rec, 0, rec.length);
        CallHeader h = CallHeader.decode(r, flavor -> true);
        CallPolicy.Decision d = CallPolicy.decide(h, r.remaining() == 0, c.state == Connection.State.TLS, c.flags,
                c.state == Connection.State.PLAIN && !probeAnswered, c.services.settings().require());
        act(h, d, rec, -1, true);
    }

    /**
     * The head of a large record from the client: decided on as a whole record would be (it holds
     * the whole call header and bytes after it); true when the rest is to be relayed behind it.
     */
    @Override
    public boolean head(byte[] head, int fragmentLength, boolean last) {
        if (c.closed()) {
            return false;
        }
        CallHeader h = CallHeader.decode(new XdrReader(head, 0, head.length), flavor -> true);
        CallPolicy.Decision d = CallPolicy.decide(h, false, c.state == Connection.State.TLS, c.flags,
                c.state == Connection.State.PLAIN && !probeAnswered, c.services.settings().require());
        return act(h, d, head, fragmentLength, last);
    }

    /** The rest of a large record relayed: on to the backend as it comes. */
    @Override
    public void body(ByteBuffer bytes) {
        if (!c.closed()) {
            relay.toBackend(bytes);
        }
    }

    /**
     * Does what the policy decided for {@code rec}: a whole record ({@code fragmentLength} -1), or
     * the head of a large one whose first fragment has {@code fragmentLength} bytes; true when it
     * (and so the rest of a large one) is relayed.
     */
    private boolean act(CallHeader h, CallPolicy.Decision d, byte[] rec, int fragmentLength, boolean last) {
        switch (d.action()) {
            case DROP:
                if (d.why() != null) {
                    refused(h, d); // sent before the connection met --require: never relayed, opens no backend connection
                }
                return false;
            case REFUSE:
                refused(h, d);
                replies.answer(RpcMessages.authError(h.xid, d.authStat()));
                return false;
            case START_TLS:
                if (fragmentLength >= 0) {
                    return false; // never: a probe has no body (the policy refuses one with bytes after its header)
                }
                if (midRecord.getAsBoolean()) {
                    c.events.teardown("bytes after the STARTTLS probe before its reply");
                    return false;
                }
                probeAnswered = true;
                c.earn(Member.EARNED);
                replies.answerStartTls(RpcMessages.startTls(h.xid));
                return false;
            case RELAY_AS_CERTIFICATE_USER:
                h.decodeAuthSys(rec);
                if (h.authSys == null) {
                    CallPolicy.Decision bad = CallPolicy.Decision.refuse(OncRpcAuthStatus.ONCRPC_AUTH_BADCRED, Refusal.BAD_CREDENTIAL);
                    refused(h, bad);
                    replies.answer(RpcMessages.authError(h.xid, bad.authStat()));
                    return false;
                }
                c.earn(Member.EARNED);
                byte[] mapped = rewrite(rec, h);
                relay(mapped, fragmentLength < 0 ? -1 : fragmentLength + mapped.length - rec.length, last, h);
                return true;
            case RELAY:
            default:
                c.earn(Member.EARNED);
                relay(rec, fragmentLength, last, h);
                return true;
        }
    }

    private void relay(byte[] rec, int fragmentLength, boolean last, CallHeader h) {
        if (fragmentLength < 0) {
            relay.toBackend(rec, h);
        } else {
            relay.toBackend(rec, fragmentLength, last, h); // the head: the rest follows as it comes
        }
    }

    /**
     * Logs and counts a refused call or a dropped record. The flags alone do not tell a certificate the
     * allow-list refused from one that did not verify; the session's check does, and says why.
     */
    private void refused(CallHeader h, CallPolicy.Decision d) {
        EstablishedSession session = tls.session();
        TrustMaterial.Verification v = session == null ? null : session.verification();
        Refusal why = d.why() == Refusal.NOT_VERIFIED && v != null && v.notAllowed() ? Refusal.NOT_ALLOWED : d.why();
        c.services.refusals().refused(c.peer, h, why, () -> {
            StringJoiner b = new StringJoiner("; ");
            if ((why == Refusal.NOT_VERIFIED || why == Refusal.NOT_ALLOWED) && v != null && v.reason() != null) {
                b.add(v.reason());
            }
            if (d.action() == CallPolicy.Action.REFUSE) {
                b.add("answered " + LogText.authName(d.authStat()));
            }
            if (d.action() == CallPolicy.Action.DROP || d.authStat() == OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK) {
                b.add("--require " + c.services.settings().require().name().toLowerCase(Locale.ROOT));
            } else if (why == Refusal.DISABLED) {
                b.add("only AUTH_NONE calls pass");
            } else if (h.credFlavor == CallHeader.AUTH_TLS && h.problem == CallHeader.Problem.NONE) {
                b.add("AUTH_TLS out of place (a second STARTTLS probe, one inside TLS, or one with a body)");
            }
            return b.toString();
        });
    }

    /** The call as the certificate's user; a user in more groups than AUTH_SYS carries is logged once per connection. */
    private byte[] rewrite(byte[] rec, CallHeader h) {
        int[] gids = c.gids;
        if (CallPolicy.groupsTrimmed(gids) && !trimLogged) {
            trimLogged = true;
            int n = gids.length - 1;
            int uid = c.uid;
            c.services.warnings().info("groups-trimmed", () -> "front end " + LogText.address(c.peer) + ": user uid "
                    + Integer.toUnsignedString(uid) + " has " + n + " supplementary groups; AUTH_SYS carries the first "
                    + CallHeader.MAX_AUTH_SYS_GIDS);
        }
        return CallPolicy.asCertificateUser(rec, h, c.uid, gids);
    }
}
