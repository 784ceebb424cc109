package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.handshake.EstablishedSessions;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.rpc.LoopPlacement;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * The RFC 9289 front end: accepts RPC clients on the --listen addresses, connects each to the
 * backend of its listener (--backend, or its --relay) when it first has a call to relay, and plays
 * the FreeBSD kernel's part for it (see {@link ClientConnection}). This class only puts the parts
 * together and takes them apart: the loops ({@link Loop}, each its connections' view of the shared
 * services), the listeners ({@link Listeners}), and what keeps room for well-behaved clients
 * whatever the others do:
 * <ul>
 * <li>a new client must earn its slot (its STARTTLS probe answered, or a call relayed) within
 * --first-call-timeout, or it is closed ({@link IdleSweep});
 * <li>at --max-clients, the connections that have earned least, longest idle first, are closed to
 * make room for the newcomer ({@link Admission});
 * <li>at the memory budget's limit it accepts nobody and closes the connections holding the most
 * unfinished memory ({@link Shedding}); it never stops reading anyone for the budget;
 * <li>backend connects in progress are bounded ({@link ConnectPermits}), and so are the source
 * ports toward each backend ({@link SourcePorts}, {@link PortRoom}).
 * </ul>
 */
public final class FrontEnd implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** The largest record either side may send. */
    static final int MAX_RECORD = 4 * 1024 * 1024 + 1024;
    /** Connections to the RPCTLSSD service for the upcalls: one per loop, up to this many. */
    static final int MAX_UPCALL_CONNECTIONS = 16;

    private final List<Loop> loops = new ArrayList<>();
    private final List<Upcalls> upcalls = new ArrayList<>();
    private final Set<Member> connections = ConcurrentHashMap.newKeySet();
    private final FrontEndStats stats = new FrontEndStats();
    private final ConnectPermits permits = new ConnectPermits();
    private final SourcePorts sourcePorts;
    private final MemoryBudget budget;
    private final Listeners listeners;
    private IdleSweep sweep;
    private final BackendHealth backendHealth;
    /** The connector's server look-ups (idle, with no thread, in the front end). */
    private final ServerNames names = new ServerNames();

    /**
     * {@code service}: the RPCTLSSD service's socket, or in connector mode ({@link FrontEndSettings#connecting})
     * RPCTLSCD's; {@code placement}: how the service in this process learns to serve each loop's upcalls on that loop, or null.
     */
    public FrontEnd(FrontEndSettings config, java.net.SocketAddress service, LoopPlacement placement, SocketHandoff handoff,
            EstablishedSessions sessions, ScheduledExecutorService timer, MemoryBudget budget) throws IOException {
        this.budget = budget;
        RateLimitedLog warnings = new RateLimitedLog(LOG);
        this.sourcePorts = new SourcePorts(SourcePorts.usable(config), config.sources());
        List<IoLoop> ios = new ArrayList<>();
        // the connector's loops are named for it (and so the upcall sockets bound as <socket>.connector-io-N)
        String loopName = config.connecting() ? "connector-io" : "frontend-io";
        for (int i = 0; i < config.ioThreads(); i++) {
            ios.add(new IoLoop(config.ioThreads() == 1 ? loopName : loopName + "-" + (i + 1)));
        }
        List<Relay> relays = config.relays();
        // the connector's servers given by name are tracked by name: a name is resolved at each connect (and each probe) and
        // may give another address each time, so no one address speaks for it
        Map<InetSocketAddress, Connect> named = new java.util.LinkedHashMap<>(); // in --connect order, as /ready lists them
        config.connectors().forEach(c -> named.putIfAbsent(c.healthKey(), c));
        this.backendHealth = new BackendHealth(config.connecting() ? List.copyOf(named.keySet())
                : relays.stream().map(Relay::backend).toList(), (key, then) -> {
                    Connect c = named.get(key);
                    if (c == null) {
                        then.accept(null, "not a --connect server"); // never: only the connector's servers are given by name
                    } else {
                        names.resolve(c, then);
                    }
                }, timer, ios.get(0));
        Admission admission = new Admission(config.maxClients(), connections, warnings, config.who());
        Shedding shedding = new Shedding(budget, connections, warnings, config.who());
        Shared shared = new Shared(new ConnectionSettings(config.require(), MAX_RECORD, config.backendProxy(),
                config.proxyHeaderTimeout().toNanos(), config.allowPlain()), timer, budget, stats, warnings, new Refusals(warnings), handoff, sessions,
                config.acceptProxyFrom(), connections, admission, shedding, permits, sourcePorts, new PortRoom(connections, warnings, config.who()),
                backendHealth);
        for (int i = 0; i < ios.size(); i++) {
            if (i < MAX_UPCALL_CONNECTIONS) {
                upcalls.add(new Upcalls(config.connecting() ? Upcalls.Program.RPCTLSCD : Upcalls.Program.RPCTLSSD, service, config.upcallTimeout(), timer, ios.get(i), placement));
            }
            // loops past the cap share, handing their calls over
            loops.add(new Loop(ios.get(i), upcalls.get(i % upcalls.size()), shared));
        }
        this.listeners = new Listeners(loops, admission, connections, budget, timer, warnings);
        budget.onDrained(listeners::budgetDrained);
        try {
            for (Relay r : relays) {
                String why = sourcePorts.noSourceFor(r.backend());
                if (why != null) {
                    throw new IOException("front end: " + why);
                }
            }
            listeners.bind(config.connecting() ? config.connectors().stream().map(Connect::listen).toList()
                    : relays.stream().map(Relay::listen).toList(), config.who());
            this.sweep = new IdleSweep(loops, shedding, warnings, config.firstCallTimeout().toNanos(), config.idleTimeout().toNanos(),
                    config.writeTimeout().toNanos(), timer, config.connecting());
            if (config.connecting()) {
                listeners.startConnectors(config.connectors(), names, " (server connections from "
                        + (sourcePorts.binds() ? "ports " + sourcePorts.describe() : "any port")
                        + (config.allowPlain() ? "; --allow-plain" : "") + ")");
                return;
            }
            String require = config.require().name().toLowerCase(Locale.ROOT);
            listeners.start(relays, backend -> " (require " + require + "; backend connections from "
                    + (sourcePorts.binds() ? "ports " + sourcePorts.describe() + ", " + sourcePorts.capacity(backend) + " at once"
                            : "any port") + ")");
        } catch (IOException e) {
            close(); // gives back what was started
            throw e;
        }
    }

    /** Whether each backend can be reached (for /ready). */
    public BackendHealth backendHealth() {
        return backendHealth;
    }

    /** The bound listening addresses (the real ports when 0 was asked for). */
    public List<InetSocketAddress> addresses() throws IOException {
        return listeners.addresses();
    }

    public int connectionCount() {
        return connections.size();
    }

    /** Connections now before TLS (plain or handshaking) and with TLS, read for the metrics (a snapshot, not exact under change). */
    public int[] connectionsByState() {
        int plain = 0;
        int tls = 0;
        for (Member c : connections) {
            if (c.tls()) {
                tls++;
            } else if (!c.closed()) {
                plain++;
            }
        }
        return new int[] {plain, tls};
    }

    /** The front end's counters (handshakes, disconnects, pauses, the peak queued, clients shed by reason). */
    public FrontEndStats stats() {
        return stats;
    }

    /** What one connection may queue for a side before the other side stops being read (plus one record). */
    public long queueLimit() {
        return BackPressure.HIGH_WATER + MAX_RECORD;
    }

    /** How many event loops serve the connections. */
    public int loopCount() {
        return loops.size();
    }

    /** The memory budget all connections share. */
    public MemoryBudget budget() {
        return budget;
    }

    /** Where backend connections come from (for tests: every port given back). */
    SourcePorts sourcePorts() {
        return sourcePorts;
    }

    /** The backend-connect permits (for tests: none left held once the connects are over). */
    ConnectPermits permits() {
        return permits;
    }

    @Override
    public void close() {
        if (sweep != null) {
            sweep.close();
        }
        if (backendHealth != null) {
            backendHealth.close();
        }
        listeners.close();
        names.close();
        CountDownLatch done = new CountDownLatch(loops.size());
        for (Loop loop : loops) {
            loop.io.submit(() -> {
                for (Member c : loop.members) {
                    c.teardown("the daemon is stopping");
                }
                done.countDown();
            });
        }
        try {
            done.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Upcalls u : upcalls) {
            u.close();
        }
        for (Loop loop : loops) {
            loop.io.close();
        }
        for (Member c : connections) {
            c.closeClientSocket();
        }
    }
}
