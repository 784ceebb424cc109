package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import org.rpctlsservd.guard.Acceptor;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.handshake.EstablishedSessions;
import org.rpctlsservd.sessions.SocketHandoff;
import org.rpctlsservd.guard.LogText;

/**
 * The RFC 9289 front end: accepts RPC clients on the --listen addresses, connects each to the
 * backend of its listener (--backend, or its --relay) when it first has a call to relay, and plays the FreeBSD kernel's part for it
 * (see {@link ClientConnection}). It owns its listeners, its I/O thread, its upcall client and
 * every client connection, and keeps room for well-behaved clients whatever the others do:
 * <ul>
 * <li>a new client must earn its slot (its STARTTLS probe answered, or a call relayed) within
 * --first-call-timeout, or it is closed;
 * <li>at --max-clients, the connections that have earned least, longest idle first, are closed to
 * make room for the newcomer (as Linux's NFS server closes its oldest temporary transport), so a
 * flood of idle sockets cannot keep anyone out;
 * <li>at the memory budget's limit it accepts nobody and closes the connections holding the most
 * unfinished memory (stalled partial records first, then the largest holders); it never stops
 * reading anyone for the budget (see {@link #shedIfOver}).
 * </ul>
 */
public final class FrontEnd implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** Connections that have earned nothing closed at once, at most, when --max-clients is reached: one scan serves a flood. */
    static final int EVICT_BATCH = 64;
    /** Past the first, a connection goes in an eviction batch only when idle this long: a newcomer about to send its probe stays. */
    static final long EVICT_IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A client that sent nothing for this long while a record of it is unfinished is not making progress. */
    static final long STALLED_NANOS = TimeUnit.SECONDS.toNanos(1);

    final SocketHandoff handoff;
    final EstablishedSessions sessions;
    final Require require;
    final int maxRecord = 4 * 1024 * 1024 + 1024;
    /** The event loops; each connection belongs to one of them for its life. */
    private final List<Loop> loops = new ArrayList<>();
    private final AtomicInteger nextLoop = new AtomicInteger();
    /** Connections to the RPCTLSSD service for the upcalls: one per loop, up to {@link #MAX_UPCALL_CONNECTIONS}. */
    private final List<Upcalls> upcalls = new ArrayList<>();
    static final int MAX_UPCALL_CONNECTIONS = 16;
    final Set<ClientConnection> connections = ConcurrentHashMap.newKeySet();
    final AtomicInteger handshakes = new AtomicInteger();
    final AtomicInteger disconnects = new AtomicInteger();
    final AtomicInteger pauses = new AtomicInteger();
    final java.util.concurrent.atomic.AtomicLong peakQueued = new java.util.concurrent.atomic.AtomicLong();
    /** Where backend connections come from: reserved ports by default (--backend-source-ports, --backend-source). */
    final SourcePorts sourcePorts;
    /** --accept-proxy-from: peers whose connections begin with a PROXY header (and only theirs may). */
    private final List<org.rpctlsservd.proxy.Cidr> acceptProxyFrom;
    /** --backend-proxy: 0 none, 1 or 2 the PROXY protocol version to send. */
    final int backendProxy;
    /** How long a trusted peer has to send its PROXY header. */
    final long proxyHeaderNanos;
    final ScheduledExecutorService timer;
    final MemoryBudget budget;
    final RateLimitedLog warnings = new RateLimitedLog(LOG);
    /** Refused calls and dropped records: logged (through {@link #warnings}) and counted by reason. */
    final Refusals refusals = new Refusals(warnings);
    /** Backend connections being made at once; further connections wait for one (up to MAX_WAITING_CONNECTS). */
    final int backendConnectLimit = 256;
    final Semaphore backendConnects = new Semaphore(backendConnectLimit);
    /** Connections whose first call waits for a backend connect to start; guarded by itself (every loop uses it). */
    private final ArrayDeque<ClientConnection> waitingForConnect = new ArrayDeque<>();
    /** Past this many waiting, a client is closed: the backend is down or far too slow. */
    static final int MAX_WAITING_CONNECTS = 4096;
    static final Duration BACKEND_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private final long idleNanos;
    private final long writeTimeoutNanos;
    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    /** Each --listen socket, accepted on by one of the loops (in turn). */
    private final List<Listener> accepting = new ArrayList<>();
    private final int maxClients;
    private final long firstCallNanos;
    /**
     * Connections admitted and neither forgotten nor marked for eviction: what counts against
     * --max-clients. One counter, so no reader sees a connection gone from one count and not yet
     * from another (the set's size() is only an estimate while it changes).
     */
    private final AtomicInteger standing = new AtomicInteger();
    /** Clients closed to protect the others, by reason (counted where they are marked, with the metric). */
    private final java.util.Map<org.rpctlsservd.metrics.Metrics.Shed, AtomicInteger> shed = new java.util.EnumMap<>(
            org.rpctlsservd.metrics.Metrics.Shed.class);
    /** The bytes of connections marked for the memory budget and not yet closed. */
    private final java.util.concurrent.atomic.AtomicLong markedBytes = new java.util.concurrent.atomic.AtomicLong();
    private final ScheduledFuture<?> sweep;
    /** Whether each backend can be reached, for /ready. */
    final BackendHealth backendHealth;
    private volatile boolean closed;

    /** A listening socket, the backend its clients are relayed to, and the loop that accepts on it. */
    private static final class Listener {
        final ServerSocketChannel channel;
        final Acceptor acceptor;
        final Loop loop;
        final InetSocketAddress backend;
        /** True while accepting waits for the memory budget to drain: set on the loop, cleared by whoever sees it drain. */
        volatile boolean waitingForBudget;

        Listener(ServerSocketChannel channel, Acceptor acceptor, Loop loop, InetSocketAddress backend) {
            this.channel = channel;
            this.acceptor = acceptor;
            this.loop = loop;
            this.backend = backend;
        }
    }

    /** One event loop, the read buffer its callbacks share, and the upcall client its connections use. */
    static final class Loop {
        final IoLoop io;
        /** The connections this loop serves (each also in the front end's {@code connections}). */
        final Set<ClientConnection> members = ConcurrentHashMap.newKeySet();
        private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
        /** Usually on this loop, so an upcall and its answer need no hand-off between threads. */
        Upcalls upcalls;
        /** This loop's connections that another loop marked to be closed (for the memory budget, or to make room). */
        final java.util.concurrent.ConcurrentLinkedQueue<ClientConnection> marked = new java.util.concurrent.ConcurrentLinkedQueue<>();

        /** On this loop: closes the connections marked by other loops, but {@code running} (whose callback is on the stack). */
        void closeMarked(ClientConnection running) {
            ClientConnection c;
            boolean skipped = false;
            while ((c = marked.poll()) != null) {
                if (c == running) {
                    skipped = true;
                } else {
                    c.teardown(c.markedReason);
                }
            }
            if (skipped) {
                running.closeSoon(running.markedReason);
            }
        }

        Loop(IoLoop io) {
            this.io = io;
        }

        /** The loop's read buffer, emptied; only its own thread uses it. */
        ByteBuffer readBuffer() {
            readBuffer.clear();
            return readBuffer;
        }
    }

    /** {@code placement}: how the RPCTLSSD service in this process learns to serve each loop's upcalls on that loop, or null. */
    public FrontEnd(FrontEndSettings config, java.net.SocketAddress service, org.rpctlsservd.rpc.LoopPlacement placement,
            SocketHandoff handoff, EstablishedSessions sessions, ScheduledExecutorService timer, MemoryBudget budget) throws IOException {
        this.handoff = handoff;
        this.sessions = sessions;
        this.require = config.require();
        this.sourcePorts = new SourcePorts(sourcePorts(config), config.sources());
        this.acceptProxyFrom = config.acceptProxyFrom();
        this.backendProxy = config.backendProxy();
        this.proxyHeaderNanos = config.proxyHeaderTimeout().toNanos();
        this.timer = timer;
        this.idleNanos = config.idleTimeout().toNanos();
        this.writeTimeoutNanos = config.writeTimeout().toNanos();
        this.budget = budget;
        for (org.rpctlsservd.metrics.Metrics.Shed r : org.rpctlsservd.metrics.Metrics.Shed.values()) {
            shed.put(r, new AtomicInteger());
        }
        this.maxClients = config.maxClients();
        this.firstCallNanos = config.firstCallTimeout().toNanos();
        for (int i = 0; i < config.ioThreads(); i++) {
            loops.add(new Loop(new IoLoop(config.ioThreads() == 1 ? "frontend-io" : "frontend-io-" + (i + 1))));
        }
        for (int i = 0; i < loops.size(); i++) {
            Loop loop = loops.get(i);
            if (i < MAX_UPCALL_CONNECTIONS) {
                upcalls.add(new Upcalls(service, config.upcallTimeout(), timer, loop.io, placement));
            }
            loop.upcalls = upcalls.get(i % upcalls.size()); // loops past the cap share, handing their calls over
        }
        budget.onDrained(this::budgetDrained);
        List<Relay> relays = config.relays();
        for (Relay r : relays) {
            String why = sourcePorts.noSourceFor(r.backend());
            if (why != null) {
                close();
                throw new IOException("front end: " + why);
            }
        }
        for (Relay r : relays) {
            try {
                ServerSocketChannel ss = ServerSocketChannel.open();
                listeners.add(ss);
                ss.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ss.bind(r.listen(), 1024);
            } catch (IOException e) {
                close();
                throw new IOException("front end: cannot listen on " + LogText.address(r.listen()) + ": " + LogText.why(e), e);
            }
        }
        long period = Math.max(50, Math.min(1000,
                TimeUnit.NANOSECONDS.toMillis(Math.min(firstCallNanos, Math.min(idleNanos, writeTimeoutNanos))) / 4));
        this.sweep = timer.scheduleWithFixedDelay(this::sweepIdle, period, period, TimeUnit.MILLISECONDS);
        this.backendHealth = new BackendHealth(relays.stream().map(Relay::backend).toList(), timer, loops.get(0).io);
        for (int i = 0; i < listeners.size(); i++) {
            ServerSocketChannel ss = listeners.get(i);
            Listener l;
            try {
                l = new Listener(ss, new Acceptor(ss, "front end " + LogText.address(ss.getLocalAddress())), loops.get(i % loops.size()),
                        relays.get(i).backend());
            } catch (IOException e) {
                close(); // gives back what was started
                throw new IOException("front end: cannot listen: " + e.getMessage(), e);
            }
            accepting.add(l);
            l.loop.io.onAcceptable(ss, () -> acceptable(l));
            LOG.info("front end: RPC-over-TLS on " + LogText.address(ss.getLocalAddress()) + ", relaying to " + LogText.address(l.backend)
                    + " (require " + require.name().toLowerCase(java.util.Locale.ROOT) + "; backend connections from "
                    + (sourcePorts.binds() ? "ports " + sourcePorts.describe() + ", " + sourcePorts.capacity(l.backend) + " at once"
                            : "any port") + ")");
        }
    }

    /**
     * --backend-source-ports as this process can have it: the reserved default falls back to any
     * port, with a warning, when the daemon may not bind them; a range the administrator gave is
     * refused instead (exports that want reserved ports would refuse every client).
     */
    private static SourcePortRange sourcePorts(FrontEndSettings config) throws IOException {
        SourcePortRange range = config.sourcePorts();
        if (range.any()) {
            return range;
        }
        String why = SourcePorts.mayBind(range, config.sources().isEmpty() ? null : config.sources().get(0));
        if (why == null) {
            return range;
        }
        if (range.given()) {
            throw new IOException("front end: --backend-source-ports " + range + ": the daemon may not bind these ports (" + why
                    + "): run it as root or with CAP_NET_BIND_SERVICE, or say --backend-source-ports any");
        }
        LOG.warning("front end: backend connections come from unprivileged ports: the daemon may not bind ports " + range + " ("
                + why + "); NFS exports with `secure' (knfsd's default) or PrivilegedPort = true refuse them; run the daemon as "
                + "root or with CAP_NET_BIND_SERVICE, or say --backend-source-ports any");
        return SourcePortRange.ANY;
    }

    /** True when connections from {@code ip} must begin with a PROXY header. */
    boolean trustsProxy(java.net.InetAddress ip) {
        for (org.rpctlsservd.proxy.Cidr c : acceptProxyFrom) {
            if (c.contains(ip)) {
                return true;
            }
        }
        return false;
    }

    /** Whether each backend can be reached (for /ready). */
    public BackendHealth backendHealth() {
        return backendHealth;
    }

    /** The bound listening addresses (the real ports when 0 was asked for). */
    public List<InetSocketAddress> addresses() throws IOException {
        List<InetSocketAddress> out = new ArrayList<>();
        for (ServerSocketChannel ss : listeners) {
            out.add((InetSocketAddress) ss.getLocalAddress());
        }
        return out;
    }

    public int connectionCount() {
        return connections.size();
    }

    /** Connections now before TLS (plain or handshaking) and with TLS, read for the metrics (a snapshot, not exact under change). */
    public int[] connectionsByState() {
        int plain = 0;
        int tls = 0;
        for (ClientConnection c : connections) {
            ClientConnection.State s = c.state;
            if (s == ClientConnection.State.TLS) {
                tls++;
            } else if (s != ClientConnection.State.CLOSED) {
                plain++;
            }
        }
        return new int[] {plain, tls};
    }

    /** Handshakes that succeeded, and DISCONNECT upcalls made, so far. */
    public int handshakes() {
        return handshakes.get();
    }

    public int disconnects() {
        return disconnects.get();
    }

    /** Times a side stopped being read because the other side was not taking its bytes. */
    public int pauses() {
        return pauses.get();
    }

    /** The most bytes ever queued for one side of one connection. */
    public long peakQueued() {
        return peakQueued.get();
    }

    /** What one connection may queue for a side before the other side stops being read (plus one record). */
    public long queueLimit() {
        return ClientConnection.HIGH_WATER + maxRecord;
    }

    /** How many event loops serve the connections. */
    public int loopCount() {
        return loops.size();
    }

    /** Connections one wake-up of a listener accepts at most, so that its loop serves its connections too. */
    private static final int ACCEPT_BATCH = 64;

    /**
     * On the listener's loop: accepts what waits and deals it out to the loops in turn (a
     * connection dealt to this loop starts at once, with no hand-off). While the memory budget is
     * exhausted, clients wait in the listen queue; out of descriptors, the waiting ones are
     * refused and accepting pauses.
     */
    private void acceptable(Listener l) {
        for (int i = 0; i < ACCEPT_BATCH && !closed; i++) {
            if (budget.paused()) {
                l.waitingForBudget = true;
                if (!budget.paused()) {
                    resumeAccepting(l); // it drained while the flag was being set
                }
                return;
            }
            SocketChannel c;
            try {
                c = l.acceptor.acceptNow();
            } catch (Acceptor.Shed e) {
                timer.schedule(() -> l.loop.io.submit(() -> armAccept(l)), Acceptor.pauseMillis(), TimeUnit.MILLISECONDS);
                return;
            } catch (IOException e) {
                if (!closed && l.channel.isOpen()) {
                    warnings.warning("accept", () -> "front end: accept failed: " + LogText.why(e, "the client"));
                }
                break;
            }
            if (c == null) {
                break;
            }
            admit(c, l.loop, l.backend);
        }
        armAccept(l);
    }

    private void armAccept(Listener l) {
        if (!closed && l.channel.isOpen()) {
            l.loop.io.onAcceptable(l.channel, () -> acceptable(l));
        }
    }

    /** From any thread: accepting on {@code l} goes on after a pause for the budget. */
    private void resumeAccepting(Listener l) {
        if (l.waitingForBudget) {
            l.waitingForBudget = false;
            l.loop.io.submit(() -> armAccept(l));
        }
    }

    /** On {@code here}, a loop: a newly accepted client goes to the next loop in turn. */
    private void admit(SocketChannel c, Loop here, InetSocketAddress backend) {
        if (!takeSlot() && !makeRoom()) {
            warnings.warning("max-clients", () -> "front end: refused a client: " + maxClients + " connections already"
                    + " (--max-clients), all of them handshaking or closing already");
            closeQuietly(c);
            return;
        }
        try {
            InetSocketAddress peer = (InetSocketAddress) c.getRemoteAddress();
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c.configureBlocking(false);
            Loop loop = loops.get(Math.floorMod(nextLoop.getAndIncrement(), loops.size()));
            ClientConnection conn = new ClientConnection(this, loop, c, peer, backend);
            loop.members.add(conn);
            connections.add(conn); // last: scans find it here, and one that closes it at once must find it in members

            if (loop == here) {
                conn.start();
            } else {
                loop.io.submit(conn::start);
            }
        } catch (IOException e) {
            standing.decrementAndGet(); // its slot, taken or handed over, goes back
            LOG.fine(() -> "front end: a client went before it was served: " + LogText.why(e, "the client"));
            closeQuietly(c);
        }
    }

    /** A slot under --max-clients, taken at once or not at all: listeners on several loops never both take the last. */
    private boolean takeSlot() {
        while (true) {
            int n = standing.get();
            if (n >= maxClients) {
                return false;
            }
            if (standing.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Who goes first when room must be made: lowest rank (what it earned, a newcomer counted as earned), then longest idle. */
    private record Standing(ClientConnection c, int earned, int rank, long lastActivity) implements Comparable<Standing> {
        @Override
        public int compareTo(Standing o) {
            return rank != o.rank ? Integer.compare(rank, o.rank) : Long.compare(lastActivity, o.lastActivity);
        }
    }

    /**
     * Victims a scan found beyond the one it needed, of the same rank, best first, for the next
     * newcomers: one scan serves many admissions in a flood. Each is checked again when taken (its
     * standing may have changed), and all go once ranks may have changed with age. Guarded by
     * itself (listeners on several loops may make room at once).
     */
    private final ArrayDeque<Standing> spareVictims = new ArrayDeque<>();
    private long sparesScanned;

    /**
     * On a loop, at --max-clients: marks the connection that has earned least, longest idle first,
     * to be closed on its own loop (as Linux's svc_check_conn_limits closes its oldest temporary
     * transport); in a flood, those that earned nothing and have been idle a while go up to
     * {@link #EVICT_BATCH} at a time. A newcomer that has not had time to send its probe
     * ({@link #EVICT_IDLE_NANOS}) counts as having earned, so it goes by age among the earned
     * plain clients, never first. False when nobody can go (all handshaking or closing).
     */
    private boolean makeRoom() {
        long idleSince = System.nanoTime() - EVICT_IDLE_NANOS;
        int marked = 0;
        synchronized (spareVictims) {
            if (System.nanoTime() - sparesScanned > EVICT_IDLE_NANOS) {
                spareVictims.clear(); // a newcomer of then may count as idle now
            }
            Standing spare;
            while ((spare = spareVictims.poll()) != null) {
                if (stillStands(spare) && evict(spare, true)) {
                    return true;
                }
            }
            java.util.PriorityQueue<Standing> worst = new java.util.PriorityQueue<>(EVICT_BATCH + 1, java.util.Comparator.reverseOrder());
            for (ClientConnection c : connections) {
                int earned = c.earned;
                if (earned == ClientConnection.BUSY || c.doomed() || c.state == ClientConnection.State.CLOSED) {
                    continue;
                }
                long last = c.lastActivity;
                worst.add(new Standing(c, earned, earned == ClientConnection.UNEARNED && last > idleSince
                        ? ClientConnection.EARNED : earned, last));
                if (worst.size() > EVICT_BATCH) {
                    worst.poll();
                }
            }
            List<Standing> order = new ArrayList<>(worst);
            java.util.Collections.sort(order);
            sparesScanned = System.nanoTime();
            int rank = -1;
            for (Standing s : order) {
                if (marked == 0 || s.rank() == ClientConnection.UNEARNED && rank == ClientConnection.UNEARNED) {
                    if (evict(s, marked == 0)) {
                        marked++;
                        rank = s.rank();
                    }
                } else if (s.rank() == rank) {
                    spareVictims.add(s); // as good as the one taken: for the next newcomers, one each
                }
            }
        }
        if (marked > 0) {
            int n = marked;
            warnings.warning("evicted", () -> "front end: " + maxClients + " connections (--max-clients): closing " + n
                    + " that earned least, longest idle first, to make room");
        }
        return marked > 0;
    }

    /** A spare victim is still one when nothing about it changed since the scan that found it. */
    private static boolean stillStands(Standing s) {
        ClientConnection c = s.c();
        return !c.doomed() && c.earned == s.earned() && c.lastActivity == s.lastActivity();
    }

    /** Marks {@code s} to make room; with {@code handOver} its slot passes straight to the newcomer, else it is freed. */
    private boolean evict(Standing s, boolean handOver) {
        if (!s.c().doom(org.rpctlsservd.metrics.Metrics.Shed.EVICTED, 0)) {
            return false;
        }
        if (!handOver) {
            standing.decrementAndGet(); // a batch's others: room for the next newcomers
        }
        close(s.c(), null, "closed to make room: " + maxClients + " connections (--max-clients)");
        return true;
    }

    /**
     * Closes a marked connection: here and now when it is this loop's and not {@code caller} (the
     * one whose callback is running: it is closed right after); else on its own loop, before that
     * loop lets any connection grow again.
     */
    private static void close(ClientConnection c, ClientConnection caller, String reason) {
        if (c == caller) {
            c.closeSoon(reason);
        } else if (c.io.inLoop()) {
            c.teardown(reason);
        } else {
            c.markedReason = reason;
            c.loop.marked.add(c);
            c.io.submit(() -> c.loop.closeMarked(null));
        }
    }

    /** What a connection holds, read once, so the order does not change while it is sorted. */
    private record Holding(ClientConnection c, boolean stalledPartial, long unfinished, long held, long lastActivity) {
    }

    /** Stalled partial records first, the most unfinished first; then the largest holders; then the longest idle. */
    private static final java.util.Comparator<Holding> SHED_ORDER = java.util.Comparator
            .comparing((Holding h) -> !h.stalledPartial())
            .thenComparing(h -> h.stalledPartial() ? -h.unfinished() : 0L)
            .thenComparing(h -> -h.held())
            .thenComparingLong(Holding::lastActivity);

    /**
     * On a loop, after a connection grew, and on each sweep: from the budget's limit until usage is
     * below where accepting resumes, marks the connections holding the most unfinished memory
     * (partial records from clients not making progress, then the largest holders) to be closed.
     * <p>Why this cannot dead-lock: no connection ever waits for the budget. Reading goes on for
     * everyone not marked, so every call being assembled either completes (and moves on to the
     * backend, which drains it) or its connection is closed here and its bytes given back; memory
     * held by one client is never what another is waiting for. (Stopping reads at the limit did
     * dead-lock: calls half-read when it tripped could neither finish nor be given up.)
     * <p>Why it holds the limit: a marked connection's client is never read again; one on this loop
     * is closed here and now, one on another loop is closed there at the next growth that loop
     * reports ({@link Loop#closeMarked}), or sooner. So usage passes the limit by about what two
     * callbacks add on each loop (one that ran while another loop's scan marked, one before its
     * marks close), each: a read (64 KiB, with the framing and queue overhead of the records
     * in it, and the front end's own replies to them) and the growth of one record's buffer (it
     * doubles, up to the record's declared length). No lock: loops scanning at once mark with a
     * compare-and-set each and see each other's marks in {@link #markedBytes}.
     */
    void shedIfOver(ClientConnection caller) {
        // From reaching the limit until below where accepting resumes: a scan that aimed below it
        // can be outgrown by others before its marks close, and the limit may never be reached
        // again while nobody is admitted (the sweep calls this too, for when nothing grows).
        if (!budget.paused() || needed() <= 0) {
            return;
        }
        long now = System.nanoTime();
        List<Holding> candidates = new ArrayList<>();
        for (ClientConnection c : connections) {
            if (c.doomed() || c.earned == ClientConnection.BUSY) {
                continue; // marked already; or its socket is with the handshake, which has its own deadline
            }
            long unfinished = c.unfinished;
            candidates.add(new Holding(c, unfinished > 0 && now - c.lastFromClient > STALLED_NANOS, unfinished, c.reported,
                    c.lastActivity));
        }
        candidates.sort(SHED_ORDER);
        int n = 0;
        long freed = 0;
        for (Holding h : candidates) {
            if (needed() <= 0) {
                break;
            }
            if (h.c().doom(org.rpctlsservd.metrics.Metrics.Shed.MEMORY, h.held())) {
                markedBytes.addAndGet(h.held()); // before it can close: its close takes the same bytes back
                close(h.c(), caller, "closed for the memory budget, holding " + h.held() + " bytes ("
                        + h.unfinished() + " of an unfinished record)");
                freed += h.held();
                n++;
            }
        }
        if (n > 0) {
            int count = n;
            long bytes = freed;
            warnings.warning("budget-shed", () -> "front end: memory budget of " + (budget.limit() >> 20) + " MiB reached: closing "
                    + count + " connections holding " + (bytes >> 10) + " KiB (unfinished records of stalled clients first, then the"
                    + " largest)");
        }
    }

    /** What must still be given back to get below where accepting resumes, beyond what is marked already. */
    private long needed() {
        return budget.used() - markedBytes.get() - budget.resumeBelow() + 1; // accepting resumes strictly below
    }

    /**
     * On c's loop: {@code c} waits for a backend connect permit; false when too many wait already.
     * The permit is handed to it on its own loop ({@link ClientConnection#permitGranted}).
     */
    boolean waitForConnect(ClientConnection c) {
        synchronized (waitingForConnect) {
            if (waitingForConnect.size() >= MAX_WAITING_CONNECTS) {
                return false;
            }
            waitingForConnect.add(c);
        }
        grantConnectPermits(); // a permit may have come back meanwhile
        return true;
    }

    /** A backend connect finished or was given up: its permit goes to the next waiting connection. */
    void connectPermitReleased() {
        backendConnects.release();
        grantConnectPermits();
    }

    private void grantConnectPermits() {
        while (true) {
            ClientConnection c;
            synchronized (waitingForConnect) {
                if (waitingForConnect.isEmpty() || !backendConnects.tryAcquire()) {
                    return;
                }
                c = waitingForConnect.poll();
            }
            c.io.submit(c::permitGranted);
        }
    }

    /** On c's loop: a closed connection leaves the queues it waited in. */
    void forget(ClientConnection c, boolean waitingForConnect) {
        if (!connections.remove(c)) {
            return;
        }
        c.loop.members.remove(c);
        ClientConnection.Doom d = c.gone(); // a scan that marks it later fails: what it adds is taken back here or never
        if (d == null || d.why() != org.rpctlsservd.metrics.Metrics.Shed.EVICTED) {
            standing.decrementAndGet(); // an evicted one's slot was handed over or freed when it was marked
        }
        if (d != null && d.why() == org.rpctlsservd.metrics.Metrics.Shed.MEMORY) {
            markedBytes.addAndGet(-d.held());
        }
        if (waitingForConnect) {
            synchronized (this.waitingForConnect) {
                this.waitingForConnect.remove(c);
            }
        }
    }

    private void budgetDrained() {
        for (Listener l : accepting) {
            resumeAccepting(l);
        }
    }

    private void sweepIdle() {
        for (Loop loop : loops) {
            loop.io.submit(() -> {
                shedIfOver(null);
                long now = System.nanoTime();
                for (ClientConnection c : loop.members) {
                    if (c.earned == ClientConnection.UNEARNED && now - c.acceptedAt > firstCallNanos) {
                        if (c.doom(org.rpctlsservd.metrics.Metrics.Shed.FIRST_CALL_TIMEOUT, 0)) {
                            warnings.warning("first-call", () -> "front end: closed clients that had no STARTTLS probe answered and no"
                                    + " call relayed within " + TimeUnit.NANOSECONDS.toMillis(firstCallNanos) + " ms (--first-call-timeout)");
                            c.teardown("nothing earned within " + TimeUnit.NANOSECONDS.toMillis(firstCallNanos) + " ms");
                        }
                    } else if (now - c.lastActivity > idleNanos && c.state() != ClientConnection.State.HANDSHAKING) {
                        c.teardown("idle for " + TimeUnit.NANOSECONDS.toSeconds(idleNanos) + " s");
                    } else {
                        c.checkStuck(now, writeTimeoutNanos);
                    }
                }
            });
        }
    }

    /** Clients refused because every source port toward their backend was in use. */
    private final AtomicInteger portsExhausted = new AtomicInteger();

    /**
     * On the newcomer's loop, when every source port toward {@code backend} is in use: marks the
     * holder that ranks lowest, idle longest among equals, to be closed, its port going straight to
     * the newcomer (no other newcomer can take it meanwhile), so idle connections cannot hold the
     * few hundred reserved ports against everyone else. The rank: first whether the connection
     * meets --require (one below it only relays NULL calls), then what it earned (plain, TLS). A
     * holder ranking below the newcomer may go however busy; an equal one only when idle
     * {@link #EVICT_IDLE_NANOS} at least, so clients all at work are not made to take turns; a
     * higher one never. False when nobody may go.
     */
    boolean makePortRoom(ClientConnection newcomer, InetSocketAddress backend) {
        long idleSince = System.nanoTime() - EVICT_IDLE_NANOS;
        int mine = portRank(newcomer);
        List<Standing> candidates = new ArrayList<>();
        for (ClientConnection c : connections) {
            long last = c.lastActivity;
            int rank = portRank(c);
            if (c == newcomer || rank > mine || rank == mine && last > idleSince || c.earned == ClientConnection.BUSY || c.doomed()
                    || c.state == ClientConnection.State.CLOSED || !c.holdsPortTo(backend)) {
                continue;
            }
            candidates.add(new Standing(c, c.earned, rank, last));
        }
        java.util.Collections.sort(candidates);
        for (Standing s : candidates) { // another loop may have marked the best one meanwhile: the next will do
            ClientConnection victim = s.c();
            if (!victim.doom(org.rpctlsservd.metrics.Metrics.Shed.SOURCE_PORTS, 0)) {
                continue;
            }
            victim.portHeir(newcomer); // before the close gives the port back
            warnings.warning("port-room", () -> "front end: every source port toward the backend " + LogText.address(backend) + " in use: closing the"
                    + " connection that ranks lowest, idle longest, to make room");
            close(victim, newcomer, "closed to make room: every source port toward the backend " + LogText.address(backend) + " in use");
            return true;
        }
        return false;
    }

    /** Who keeps a source port first: connections that meet --require, then by what they earned. */
    private int portRank(ClientConnection c) {
        return (c.meetsRequire() ? ClientConnection.BUSY + 1 : 0) + Math.min(c.earned, ClientConnection.TLS_SESSION);
    }

    /** Every source port toward a backend was in use: a client is refused (it says so itself). */
    void countSourcePortsExhausted() {
        portsExhausted.incrementAndGet();
    }

    /** Clients refused because every source port toward their backend was in use. */
    public int sourcePortsExhausted() {
        return portsExhausted.get();
    }

    /** The counter of clients closed to protect the others for {@code why}. */
    AtomicInteger shedCount(org.rpctlsservd.metrics.Metrics.Shed why) {
        return shed.get(why);
    }

    /** Clients closed at --max-clients to make room; at --first-call-timeout; for the memory budget. */
    public int evicted() {
        return shed.get(org.rpctlsservd.metrics.Metrics.Shed.EVICTED).get();
    }

    public int firstCallTimeouts() {
        return shed.get(org.rpctlsservd.metrics.Metrics.Shed.FIRST_CALL_TIMEOUT).get();
    }

    public int shedForMemory() {
        return shed.get(org.rpctlsservd.metrics.Metrics.Shed.MEMORY).get();
    }

    /** The memory budget all connections share. */
    public MemoryBudget budget() {
        return budget;
    }

    static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing: nothing more to do
        }
    }

    @Override
    public void close() {
        closed = true;
        if (sweep != null) {
            sweep.cancel(false);
        }
        if (backendHealth != null) {
            backendHealth.close();
        }
        for (ServerSocketChannel ss : listeners) {
            closeQuietly(ss); // its key goes with it; a callback already running sees it closed
        }
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(loops.size());
        for (Loop loop : loops) {
            loop.io.submit(() -> {
                for (ClientConnection c : loop.members) {
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
        for (ClientConnection c : connections) {
            closeQuietly(c.client);
        }
    }
}
