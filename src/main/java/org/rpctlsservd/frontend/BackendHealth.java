package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;

/**
 * Whether each backend can be reached, for {@code /ready}: a backend is failing once every connect
 * to it has failed for {@link #GRACE_SECONDS} and none succeeded since. The outcomes are the front
 * end's own connects ({@link BackendConnect}) and, while those are silent for a period, a probe
 * every {@link #PROBE_MILLIS} (the first one period after the start): a non-blocking TCP connect from an ephemeral
 * port on a front-end loop, closed as soon as it is made. The backend sees a connection open and
 * close with nothing sent, as from any TCP health check, or as from the front end when a client
 * goes before its first call is relayed (no PROXY header either: the front end sends it with the
 * first record); reserved ports stay for the clients' connections (--backend-source-ports). A
 * connect still unfinished at the next period counts as failed ("no answer within"), so each
 * probe waits at most one period, and nothing ever blocks. A connector's server given by name is
 * tracked by its name: a probe resolves it first (on the connector's look-up thread, sharing a
 * look-up with the clients'), then connects with a period of its own; a name that does not resolve
 * counts as a failure, a look-up still running (behind another name's, say) as nothing yet.
 */
public final class BackendHealth implements Closeable {
    /** A refused connect or two is a restart or a blip; this long with no success is an outage. */
    public static final int GRACE_SECONDS = 5;
    /** Light enough for any server (one connection per period, only while no client connects), quick enough to notice within the grace. */
    static final long PROBE_MILLIS = 2000;
    private static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
    private static final long PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(PROBE_MILLIS);

    /** A backend that has failed past the grace: why (the last failure's reason) and for how long. */
    public record Problem(InetSocketAddress backend, String reason, long seconds) {
        /** {@code backend 127.0.0.1:20490: connection refused for 7 s} with {@code option} after the address when not null. */
        public String describe(String option) {
            return "backend " + LogText.address(backend) + (option == null ? "" : " (" + option + ")") + ": " + reason + " for " + seconds + " s";
        }
    }

    /** Resolves a server given by name (an unresolved address) off the loops; the answer (an address, or null and why) may come on any thread. */
    interface Resolver {
        void resolve(InetSocketAddress named, java.util.function.BiConsumer<InetSocketAddress, String> then);
    }

    private final Map<InetSocketAddress, Backend> backends = new LinkedHashMap<>();
    /** For the backends given by name. */
    private final Resolver resolver;
    /** The loop the probes run on. */
    private final IoLoop io;
    private final ScheduledExecutorService timer;
    /** The next period's tick (each tick arms the next, on {@link #io}). */
    private volatile ScheduledFuture<?> probes;
    private volatile boolean closed;

    /** {@code addresses}: unresolved ones are names, resolved by {@code resolver} for each probe. */
    BackendHealth(Collection<InetSocketAddress> addresses, Resolver resolver, ScheduledExecutorService timer, IoLoop io) {
        this.resolver = java.util.Objects.requireNonNull(resolver, "resolver");
        this.io = io;
        this.timer = timer;
        long now = System.nanoTime();
        for (InetSocketAddress a : addresses) {
            backends.putIfAbsent(a, new Backend(a, now));
        }
        // a period's head start: the first clients' connects, when they come at once, make the first probe needless
        probes = io.later(timer, PROBE_MILLIS, TimeUnit.MILLISECONDS, this::tick);
    }

    /** A front-end connect to {@code backend} succeeded. */
    void succeeded(InetSocketAddress backend) {
        Backend b = backends.get(backend);
        if (b != null) {
            b.succeeded(System.nanoTime(), true);
        }
    }

    /** A front-end connect to {@code backend} failed, {@code why} in words (null: unknown). */
    void failed(InetSocketAddress backend, String why) {
        Backend b = backends.get(backend);
        if (b != null) {
            b.failed(System.nanoTime(), words(why), true);
        }
    }

    /** The backends failing past the grace, in the order of the relays; empty when all can be reached. */
    public List<Problem> problems() {
        long now = System.nanoTime();
        List<Problem> out = new ArrayList<>();
        for (Backend b : backends.values()) {
            Problem p = b.problem(now);
            if (p != null) {
                out.add(p);
            }
        }
        return out;
    }

    /** Each backend, {@code ip:port}, and whether it can be reached (false: failing past the grace), in the order of the relays. */
    public Map<String, Boolean> reachable() {
        long now = System.nanoTime();
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (Backend b : backends.values()) {
            out.put(LogText.address(b.address), b.problem(now) == null);
        }
        return out;
    }

    /** On {@link #io}, each period; then the next period is armed. */
    private void tick() {
        long now = System.nanoTime();
        for (Backend b : backends.values()) {
            if (closed) {
                return;
            }
            b.tick(now);
        }
        if (!closed) {
            probes = io.later(timer, PROBE_MILLIS, TimeUnit.MILLISECONDS, this::tick);
        }
    }

    /** "Connection refused" as "connection refused"; no message as what it was. */
    static String words(String message) {
        if (message == null || message.isBlank()) {
            return "connection failed";
        }
        return message.substring(0, 1).toLowerCase(Locale.ROOT) + message.substring(1);
    }

    private static String words(Exception e) {
        if (e instanceof java.nio.channels.UnresolvedAddressException) {
            return "address not resolved";
        }
        return e.getMessage() == null ? "connection failed (" + e.getClass().getSimpleName() + ")" : words(e.getMessage());
    }

    @Override
    public void close() {
        closed = true;
        probes.cancel(false);
        for (Backend b : backends.values()) {
            b.endProbe();
        }
    }

    /** One backend's record; its methods are called from the front end's loops and the timer, hence synchronized (a few per connect). */
    private final class Backend {
        private final InetSocketAddress address;
        /** When the failures since the last success began; meaningful while {@link #reason} is set. */
        private long failingSince;
        /** Why the last connect failed; null since the last success (failing: non-null). */
        private String reason;
        /** When a front-end connect last ended, either way (at first: the start): while recent, no probe is needed. */
        private long lastReal;
        /** The probe's connect in progress, on {@link #io}; null when none. */
        private SocketChannel probe;
        /** When the probe's connect began (its own period to answer, whatever the look-up before it took). */
        private long probeStarted;
        /** The probe's look-up of the name in progress: its answer is taken only while this is set. */
        private boolean resolving;

        Backend(InetSocketAddress address, long now) {
            this.address = address;
            this.lastReal = now;
        }

        synchronized void succeeded(long now, boolean real) {
            reason = null;
            noteReal(now, real);
        }

        synchronized void failed(long now, String why, boolean real) {
            if (reason == null) {
                failingSince = now;
            }
            reason = why;
            noteReal(now, real);
        }

        private void noteReal(long now, boolean real) {
            if (real) {
                lastReal = now;
            }
        }

        synchronized Problem problem(long now) {
            if (reason == null || now - failingSince < GRACE_NANOS) {
                return null;
            }
            return new Problem(address, reason, TimeUnit.NANOSECONDS.toSeconds(now - failingSince));
        }

        /** On {@link #io}, each period: a probe still connecting has failed; a new one starts unless a client connected lately. */
        synchronized void tick(long now) {
            if (probe != null) {
                if (now - probeStarted < PROBE_NANOS) {
                    return; // begun after a look-up, within this period: it has a period of its own
                }
                failed(now, "no answer within " + PROBE_MILLIS + " ms", false);
                endProbe();
            }
            if (resolving) {
                // Its answer decides (the name service's own timeouts bound it): a look-up waiting behind another
                // name's on the one look-up thread is not this server's failure, nor a reason for a second one.
                return;
            }
            if (closed || now - lastReal < PROBE_NANOS) {
                return; // the clients' own connects say how it is
            }
            if (address.isUnresolved()) {
                resolving = true;
                resolver.resolve(address, (a, why) -> io.submit(() -> resolved(a, why)));
                return;
            }
            probe(address, now);
        }

        /** On {@link #io}: the name's address for this period's probe, or null and why it has none. */
        private synchronized void resolved(InetSocketAddress a, String why) {
            if (!resolving || closed) {
                return; // closed meanwhile
            }
            resolving = false;
            long now = System.nanoTime();
            if (a == null) {
                failed(now, "not resolved: " + why, false);
                return;
            }
            probe(a, now);
        }

        /** A connect to {@code target} (the backend's address, or what its name resolved to), closed as soon as it is made. */
        private void probe(InetSocketAddress target, long now) {
            try {
                SocketChannel ch = SocketChannel.open();
                probe = ch;
                probeStarted = now;
                ch.configureBlocking(false);
                if (ch.connect(target)) {
                    succeeded(now, false);
                    endProbe();
                } else {
                    io.onConnectable(ch, () -> connectable(ch));
                }
            } catch (IOException | RuntimeException e) {
                failed(now, words(e), false);
                endProbe();
            }
        }

        /** On {@link #io}: the probe's connect finished (or failed): noted, and the connection closed at once. */
        private synchronized void connectable(SocketChannel ch) {
            if (ch != probe) {
                return; // closed meanwhile
            }
            long now = System.nanoTime();
            try {
                if (!ch.finishConnect()) {
                    io.onConnectable(ch, () -> connectable(ch));
                    return;
                }
                succeeded(now, false);
            } catch (IOException | RuntimeException e) {
                failed(now, words(e), false);
            }
            endProbe();
        }

        synchronized void endProbe() {
            if (probe != null) {
                io.forget(probe);
                Channels.closeQuietly(probe); // a probe's socket given back: nothing to report
                probe = null;
            }
        }
    }
}
