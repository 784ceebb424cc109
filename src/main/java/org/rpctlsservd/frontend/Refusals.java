package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.util.function.Supplier;
import java.util.logging.Level;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Refusal;
import org.rpctlsservd.rpc.CallHeader;

/**
 * What the administrator learns of a client record the front end did not relay: a line at WARNING
 * (the daemon prints it without -v) naming the client, the call and why, at most one per reason
 * and kind of record per {@link RateLimitedLog#INTERVAL_NANOS} with the count of those left out,
 * so a refused flood is never a flood of lines; and every one counted by reason in
 * {@code rpctlssd_frontend_refused_total}. Any stage that refuses a call calls {@link #refused}.
 */
final class Refusals {
    private final RateLimitedLog log;

    Refusals(RateLimitedLog log) {
        this.log = log;
    }

    /**
     * {@code client}'s record with header {@code h} was refused (a call, answered here) or dropped (a
     * reply to a backend callback, or a malformed record).
     *
     * @param detail what else there is to act on (the certificate check's reason, the answer, the
     *               --require level); asked only when the line is written; may give null
     */
    void refused(InetSocketAddress client, CallHeader h, Refusal why, Supplier<String> detail) {
        boolean reply = h.problem == CallHeader.Problem.NOT_A_CALL && h.messageType == 1;
        Metrics.refused(why, reply);
        boolean call = h.problem != CallHeader.Problem.NOT_A_CALL && h.problem != CallHeader.Problem.TRUNCATED
                && h.problem != CallHeader.Problem.RPC_MISMATCH;
        log.log(Level.WARNING, (call ? "refused-" : "dropped-") + why.label(), () -> {
            String more = detail.get();
            return "front end " + LogText.address(client) + ": " + what(h) + ": " + why.text() + (more == null || more.isEmpty() ? "" : ": " + more);
        });
    }

    private static String what(CallHeader h) {
        switch (h.problem) {
            case NOT_A_CALL:
                return h.messageType == 1 ? "reply to a backend callback dropped" : "record of message type " + h.messageType + " dropped";
            case TRUNCATED:
                return "truncated call dropped";
            case RPC_MISMATCH:
                return "call of RPC version " + Integer.toUnsignedString(h.rpcVersion) + " dropped";
            default:
                return "refused program " + Integer.toUnsignedString(h.program) + " version " + Integer.toUnsignedString(h.version)
                        + " procedure " + Integer.toUnsignedString(h.procedure);
        }
    }
}
