package org.rpctlsservd.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.acplt.oncrpc.OncRpcRejectStatus;
import org.acplt.oncrpc.OncRpcReplyStatus;

/**
 * The daemon's event counters, counted where the events happen. They are process-wide and
 * lock-free: each label set's data point is resolved once here, and counting is an add to a
 * striped adder, so workers never share a lock. A {@link MetricsServer} registers them, with its
 * daemon's gauges, in the registry it serves. Counting goes on whether or not metrics are served.
 */
public final class Metrics {
    private Metrics() {
    }

    /** Why a handshake failed: a small fixed set, so the label has few values. */
    public enum Failure {
        /** The --handshake-timeout deadline passed. */
        TIMEOUT,
        /** TLS refused it: a bad ClientHello, no common suite or group, a bad certificate message, an alert. */
        TLS,
        /** The client closed the connection before the handshake was done. */
        PEER_CLOSED,
        /** A read or write on the socket failed. */
        IO,
        /** The workers or the look-up pool had no room for its next step. */
        OVERLOADED,
        /** CONNECT named a cookie with no parked socket. */
        UNKNOWN_COOKIE,
        /** The CONNECT queue was full. */
        QUEUE_FULL,
        /** Anything else (set-up errors, a session already under that cookie). */
        INTERNAL;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final Counter HANDSHAKES = Counter.builder().name("rpctlssd_handshakes_total")
            .help("TLS handshakes finished, by result and, for failures, the reason").labelNames("result", "reason").build();
    private static final CounterDataPoint HANDSHAKES_OK = HANDSHAKES.labelValues("ok", "none");
    private static final Map<Failure, CounterDataPoint> HANDSHAKES_FAILED = new EnumMap<>(Failure.class);

    static final Histogram HANDSHAKE_SECONDS = Histogram.builder().name("rpctlssd_handshake_duration_seconds")
            .help("Time from the CONNECT call's arrival to the end of its handshake, ok or failed").classicOnly()
            .classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30).build();

    static final Counter CLIENT_CERTIFICATES = Counter.builder().name("rpctlssd_client_certificates_total")
            .help("Successful handshakes in which the client presented a certificate, by the RPCTLS flags they ended with (hex)")
            .labelNames("flags").build();
    /** The flags are eight bits; a label set is resolved when first seen (a benign race: the same data point either way). */
    private static final CounterDataPoint[] CERTIFICATES_BY_FLAGS = new CounterDataPoint[256];

    static final Counter RELAY_BYTES = Counter.builder().name("rpctlssd_relay_bytes_total")
            .help("Bytes the front end wrote to backends and to clients (to clients: TLS records and the clear-text STARTTLS exchange)")
            .labelNames("direction")
            .withoutExemplars() // counted per write: no trace context to attach, and looking for one costs every write
            .build();
    private static final CounterDataPoint TO_BACKEND = RELAY_BYTES.labelValues("to_backend");
    private static final CounterDataPoint TO_CLIENT = RELAY_BYTES.labelValues("to_client");

    static final Counter QUIET = Counter.builder().name("rpctlssd_frontend_quiet_total")
            .help("Times a TLS session of the front end or the connector, quiet for 2 s, gave up its record ciphers' objects until its next record")
            .build();

    static final Counter RPC_REJECTS = Counter.builder().name("rpctlssd_rpc_rejects_total")
            .help("RPC calls answered with anything but SUCCESS, by the service or the front end itself (RFC 5531 accept and reject statuses)")
            .labelNames("reason").build();

    static final Counter RELOADS = Counter.builder().name("rpctlssd_reloads_total")
            .help("SIGHUP reloads, by result: ok, or failed when a new certificate, key, CRL or configuration was refused and the old one kept")
            .labelNames("result").build();
    private static final CounterDataPoint RELOAD_OK = RELOADS.labelValues("ok");
    private static final CounterDataPoint RELOAD_FAILED = RELOADS.labelValues("failed");

    /** Why the front end closed a client to protect the others. */
    public enum Shed {
        /** It had earned nothing (no probe answered, no call relayed) within --first-call-timeout. */
        FIRST_CALL_TIMEOUT,
        /** --max-clients was reached: it was among the longest idle of those that had earned least. */
        EVICTED,
        /** The memory budget was reached: it held the most unfinished memory. */
        MEMORY,
        /** Every source port toward its backend was in use: it was the longest idle of their holders. */
        SOURCE_PORTS;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final Counter SHED = Counter.builder().name("rpctlssd_frontend_shed_total")
            .help("Client connections the front end closed to keep room for others, by reason: first_call_timeout, evicted "
                    + "(--max-clients reached), memory (the memory budget reached), source_ports (every reserved port toward a backend in use)")
            .labelNames("reason").build();
    private static final Map<Shed, CounterDataPoint> SHED_BY_REASON = new EnumMap<>(Shed.class);

    /**
     * Why the front end refused a client's call or dropped its record: what the connection lacks for
     * --require, or what was wrong with the call. A small fixed set (a label, and a log kind each).
     */
    public enum Refusal {
        /** A plain connection: the client did not start TLS. */
        NO_TLS("client did not start TLS"),
        /** TLS without a client certificate. */
        NO_CERTIFICATE("no client certificate"),
        /** A certificate that did not verify (unknown issuer, self-signed, revoked, expired...). */
        NOT_VERIFIED("certificate not verified"),
        /** A certificate that verified but --allow-subject, --allow-san or --require-eku refused. */
        NOT_ALLOWED("certificate not on the allow-list"),
        /** A verified certificate that names no user (--require certuser). */
        NO_USER("certificate maps to no user"),
        /** The host check (-h) failed: the connection is DISABLED. */
        DISABLED("host check failed (DISABLED)"),
        /** A malformed credential or verifier, or AUTH_TLS out of place. */
        BAD_CREDENTIAL("bad credential or verifier"),
        /** Every source port toward the backend is in use (--backend-source-ports): the call cannot be relayed. */
        SOURCE_PORTS("reserved ports exhausted");

        private final String text;

        Refusal(String text) {
            this.text = text;
        }

        /** What an administrator reads in the log line. */
        public String text() {
            return text;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final Counter REFUSED = Counter.builder().name("rpctlssd_frontend_refused_total")
            .help("Client records the front end did not relay, by reason (no_tls, no_certificate, not_verified, not_allowed, "
                    + "no_user, disabled, bad_credential, source_ports) and record: call (answered with AUTH_ERROR, also counted in "
                    + "rpctlssd_rpc_rejects_total; a malformed one dropped) or reply (a reply to a backend callback, dropped)")
            .labelNames("reason", "record").build();
    private static final Map<Refusal, CounterDataPoint> REFUSED_CALLS = new EnumMap<>(Refusal.class);
    private static final Map<Refusal, CounterDataPoint> DROPPED_REPLIES = new EnumMap<>(Refusal.class);

    static {
        for (Refusal r : Refusal.values()) {
            REFUSED_CALLS.put(r, REFUSED.labelValues(r.label(), "call"));
            DROPPED_REPLIES.put(r, REFUSED.labelValues(r.label(), "reply"));
        }
        for (Shed r : Shed.values()) {
            SHED_BY_REASON.put(r, SHED.labelValues(r.label()));
        }
        for (Failure f : Failure.values()) {
            HANDSHAKES_FAILED.put(f, HANDSHAKES.labelValues("failed", f.label()));
        }
        // Every reason shows from the start, at 0, so rates and alerts need no "absent" special case.
        for (String r : new String[] {"prog_unavail", "prog_mismatch", "proc_unavail", "garbage_args", "system_err",
                "rpc_mismatch", "auth_badcred", "auth_rejectedcred", "auth_badverf", "auth_rejectedverf", "auth_tooweak",
                "auth_other"}) {
            RPC_REJECTS.labelValues(r);
        }
    }

    /** Registers the counters in {@code registry} (each daemon's server has its own registry). */
    static void registerCounters(PrometheusRegistry registry) {
        registry.register(HANDSHAKES);
        registry.register(HANDSHAKE_SECONDS);
        registry.register(CLIENT_CERTIFICATES);
        registry.register(RELAY_BYTES);
        registry.register(RPC_REJECTS);
        registry.register(RELOADS);
        registry.register(SHED);
        registry.register(REFUSED);
        registry.register(QUIET);
    }

    /** A quiet TLS session gave up its cipher objects. */
    public static void quiet() {
        QUIET.inc();
    }

    /** The front end refused a client's call ({@code reply} false) or dropped its reply to a backend callback. */
    public static void refused(Refusal why, boolean reply) {
        (reply ? DROPPED_REPLIES : REFUSED_CALLS).get(why).inc();
    }

    /** The front end closed a client to keep room for others. */
    public static void shed(Shed why) {
        SHED_BY_REASON.get(why).inc();
    }

    /** A handshake that ended well, with its RPCTLS flags; {@code receivedNanos} is when its CONNECT arrived. */
    public static void handshakeOk(int flags, boolean gotCertificate, long receivedNanos) {
        HANDSHAKES_OK.inc();
        HANDSHAKE_SECONDS.observe(seconds(receivedNanos));
        if (gotCertificate) {
            int f = flags & 0xff;
            CounterDataPoint p = CERTIFICATES_BY_FLAGS[f];
            if (p == null) {
                p = CLIENT_CERTIFICATES.labelValues(String.format("0x%02x", f));
                CERTIFICATES_BY_FLAGS[f] = p;
            }
            p.inc();
        }
    }

    /** A handshake that failed; {@code receivedNanos} is when its CONNECT arrived, or 0 when it never started. */
    public static void handshakeFailed(Failure why, long receivedNanos) {
        HANDSHAKES_FAILED.get(why).inc();
        if (receivedNanos != 0) {
            HANDSHAKE_SECONDS.observe(seconds(receivedNanos));
        }
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / (double) TimeUnit.SECONDS.toNanos(1);
    }

    public static void toBackend(long bytes) {
        TO_BACKEND.inc(bytes);
    }

    public static void toClient(long bytes) {
        TO_CLIENT.inc(bytes);
    }

    public static void reload(boolean ok) {
        (ok ? RELOAD_OK : RELOAD_FAILED).inc();
    }

    /**
     * A reply about to be sent: counted when it is not SUCCESS. The statuses are those of the
     * reply message ({@code OncRpcServerReplyMessage}'s fields).
     */
    public static void reply(int replyStatus, int acceptStatus, int rejectStatus, int authStatus) {
        String reason = rejectReason(replyStatus, acceptStatus, rejectStatus, authStatus);
        if (reason != null) {
            RPC_REJECTS.labelValues(reason).inc();
        }
    }

    /** The label for a reply, or null for SUCCESS. */
    static String rejectReason(int replyStatus, int acceptStatus, int rejectStatus, int authStatus) {
        if (replyStatus == OncRpcReplyStatus.ONCRPC_MSG_ACCEPTED) {
            switch (acceptStatus) {
                case OncRpcAcceptStatus.ONCRPC_SUCCESS: return null;
                case OncRpcAcceptStatus.ONCRPC_PROG_UNAVAIL: return "prog_unavail";
                case OncRpcAcceptStatus.ONCRPC_PROG_MISMATCH: return "prog_mismatch";
                case OncRpcAcceptStatus.ONCRPC_PROC_UNAVAIL: return "proc_unavail";
                case OncRpcAcceptStatus.ONCRPC_GARBAGE_ARGS: return "garbage_args";
                default: return "system_err";
            }
        }
        if (rejectStatus == OncRpcRejectStatus.ONCRPC_RPC_MISMATCH) {
            return "rpc_mismatch";
        }
        switch (authStatus) {
            case OncRpcAuthStatus.ONCRPC_AUTH_BADCRED: return "auth_badcred";
            case OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDCRED: return "auth_rejectedcred";
            case OncRpcAuthStatus.ONCRPC_AUTH_BADVERF: return "auth_badverf";
            case OncRpcAuthStatus.ONCRPC_AUTH_REJECTEDVERF: return "auth_rejectedverf";
            case OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK: return "auth_tooweak";
            default: return "auth_other";
        }
    }
}
