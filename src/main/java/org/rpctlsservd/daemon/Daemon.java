package org.rpctlsservd.daemon;

import org.rpctlsservd.frontend.Relay;
import java.io.Closeable;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.rpctlsservd.certs.AllowList;
import org.rpctlsservd.certs.NameService;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.frontend.FrontEnd;
import org.rpctlsservd.frontend.FrontEndSettings;
import org.rpctlsservd.guard.Timers;
import org.rpctlsservd.handshake.ClientPolicy;
import org.rpctlsservd.handshake.ClientTls;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Handshaker;
import org.rpctlsservd.handshake.EstablishedSessions;
import org.rpctlsservd.handshake.ServerTls;
import org.rpctlsservd.rpc.LoopPlacement;
import org.rpctlsservd.rpc.RpcDispatcher;
import org.rpctlsservd.rpc.RpcServer;
import org.rpctlsservd.rpc.ServerLimits;
import org.rpctlsservd.rpc.StreamRpcServer;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.MetricsServer;
import org.rpctlsservd.rpc.gen.rpctlscd;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpcbind.Registration;
import org.rpctlsservd.service.RpctlscdService;
import org.rpctlsservd.service.RpctlssdService;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * One running daemon: the RPCTLSSD service on TCP and UDP, its handshake workers, the hand-off
 * registry and session table, and its rpcbind registration. It owns all of them and ends them
 * in {@link #close()}. The same composition is rpc.tlsclntd ({@link #startClient}): the RPCTLSCD
 * service with the client's handshakes instead, and the front end's machinery as the connector.
 */
public final class Daemon implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final Config config;
    private final ScheduledExecutorService timer;
    /**
     * SIGHUP reloads: file reads, a token login, a walk of the sessions. Not on {@link #timer},
     * whose deadlines and sweeps (the front end's among them) a slow reload would hold back.
     */
    private final ScheduledExecutorService reloader = Timers.single("rpctlssd-reload");
    private final SocketHandoff handoff = new SocketHandoff();
    private final SessionTable sessions = new SessionTable();
    /** The typed way to the TLS sessions among them (the front end's lookups, a reload's shut-offs). */
    private final EstablishedSessions established = new EstablishedSessions(sessions);
    private final HandshakeWorkers workers;
    private final RpcServer server;
    private final StreamRpcServer local;
    private final Registration registration;
    /** The programs the relays name, registered at their TLS ports; null without a front end. */
    private final org.rpctlsservd.rpcbind.RelayRegistrations relayRegistrations;
    private final Handshaker handshaker;
    private final FrontEnd frontEnd;
    private final ServerTls engine;
    /** --metrics: null when off. */
    private final MetricsServer metrics;
    /** SIGHUP handling: at most one reload per 250 ms, requests in between coalesce. */
    private static final long RELOAD_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    private long lastReload = System.nanoTime() - RELOAD_DELAY_NANOS;
    private boolean reloadPending;
    private final java.util.List<Long> reloadTimes = new java.util.ArrayList<>();
    private int reloadCount;
    private int failedReloads;
    /** The options in force: those of the start, with what the last accepted reload applied (allow-lists, log level). */
    private volatile Config inForce;
    /** Told after each reload (systemd's READY=1 after RELOADING=1). */
    private volatile Runnable afterReload = () -> { };
    private boolean closed;

    /**
     * The handshake step, and the same object as a TLS engine a reload acts on (null for a scripted one); for
     * rpc.tlsclntd, {@code client} instead of both.
     */
    private record Handshaking(Handshaker handshaker, ServerTls engine, ClientTls client) {
        Handshaking(Handshaker handshaker, ServerTls engine) {
            this(handshaker, engine, null);
        }
    }

    /** rpc.tlsclntd's handshakes; null in rpc.tlsservd. */
    private final ClientTls client;

    private Daemon(Config config, Function<ScheduledExecutorService, Handshaking> handshakers) throws IOException {
        this.config = config;
        this.inForce = config;
        this.timer = Timers.single("rpctlssd-timer");
        this.workers = new HandshakeWorkers(config.maxThreads(), config.connectQueue());
        try {
            Handshaking chosen = handshakers.apply(timer);
            this.handshaker = chosen.handshaker();
            this.engine = chosen.engine();
            this.client = chosen.client();
        } catch (RuntimeException e) {
            workers.close();
            timer.shutdownNow();
            reloader.shutdownNow();
            if (e instanceof java.io.UncheckedIOException u) {
                throw u.getCause(); // an engine's start failed: said in one line by Main, not as a stack trace
            }
            throw e;
        }
        MetricsServer startedMetrics = null;
        if (config.metrics() != null) {
            try {
                // Serving before the service starts: /ready answers 503 until everything below is done.
                startedMetrics = MetricsServer.start(config.metrics(), new Gauges(), timer);
            } catch (IOException e) {
                releaseStarted(null, null);
                throw e;
            }
        }
        this.metrics = startedMetrics;
        long heap = Runtime.getRuntime().maxMemory();
        MemoryBudget budget = new MemoryBudget(config.memoryBudget() > 0 ? config.memoryBudget() : MemoryBudget.defaultFor(heap));
        LOG.info("memory budget " + (budget.limit() >> 20) + " MiB (--memory-budget) of a " + (heap >> 20) + " MiB heap");
        if (budget.limit() > heap * 3 / 4) {
            LOG.warning("the memory budget (" + (budget.limit() >> 20) + " MiB) leaves the daemon less than a quarter of its "
                    + (heap >> 20) + " MiB heap: it may run out of heap before the budget sheds"
                    + " anyone; lower --memory-budget, or give a larger -Xmx in RPCTLSSERVD_JAVA_OPTS");
        }
        RpcServer started = null;
        StreamRpcServer startedLocal = null;
        // the front end's upcall connections are served on the front end's own loops: no thread in between
        LoopPlacement placement = new LoopPlacement();
        try {
            org.rpctlsservd.rpc.RpcProgram service = client != null
                    ? new RpctlscdService(handoff, sessions, workers, client, config.rpcInsecure()).asProgram()
                    : new RpctlssdService(handoff, sessions, workers, handshaker, config.rpcInsecure()).asProgram();
            RpcDispatcher dispatcher = new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(service);
            ServerLimits limits = new ServerLimits(config.maxConnections(), ServerLimits.DEFAULT.maxRecordBytes(),
                    config.rpcIdleTimeout(), ServerLimits.DEFAULT.writeTimeout());
            // The Unix-domain socket has its own connection slots: holders of TCP slots cannot block the upcalls.
            startedLocal = RpcServer.startLocal(config.rpcSocket(), dispatcher, limits, timer, placement);
            started = RpcServer.start(config.rpcAddress(), dispatcher, limits, timer);
        } catch (IOException | OncRpcException | RuntimeException e) {
            releaseStarted(null, startedLocal);
            throw new IOException("Can't create transport for local " + serviceName().toLowerCase(java.util.Locale.ROOT) + " socket: "
                    + e.getMessage(), e);
        }
        this.server = started;
        this.local = startedLocal;
        if (!config.rpcAddress().getAddress().isLoopbackAddress()) {
            LOG.warning("--rpc-address " + config.rpcAddress().getAddress().getHostAddress() + " is not a loopback address: "
                    + "other hosts can reach the " + serviceName() + " service (NULL, and from reserved ports every procedure)");
        }
        FrontEnd fe = null;
        if (!config.allRelays().isEmpty() || !config.connects().isEmpty()) {
            try {
                fe = new FrontEnd(frontEndSettings(config), UnixDomainSocketAddress.of(config.rpcSocket()), placement, handoff,
                        established, timer, budget);
            } catch (IOException e) {
                releaseStarted(server, local);
                throw e;
            }
        }
        this.frontEnd = fe;
        int program = client != null ? rpctlscd.RPCTLSCD : rpctlssd.RPCTLSSD;
        int version = client != null ? rpctlscd.RPCTLSCDVERS : rpctlssd.RPCTLSSDVERS;
        this.registration = config.rpcbind()
                ? Registration.register(program, version, server.port(), config.rpcSocket(), config.portmapPort(), timer)
                : null;
        this.relayRegistrations = fe == null || client != null ? null
                : org.rpctlsservd.rpcbind.RelayRegistrations.register(registration, programsToRegister(config, fe), config.portmapPort());
        if (engine != null) {
            LOG.info("server certificate and key: " + engine.credentials().source());
        }
        LOG.info("serving " + serviceName() + " (" + Integer.toUnsignedString(program) + ") version "
                + version + " on " + org.rpctlsservd.guard.LogText.ip(server.address()) + " port " + server.port()
                + " (tcp, udp) and " + config.rpcSocket() + "; at most " + workers.maxThreads() + " handshakes at once"
                + (config.rpcInsecure() ? "; CONNECT, HANDLERECORD and DISCONNECT open to unprivileged callers (--rpc-insecure)" : ""));
        if (metrics != null) {
            metrics.ready();
        }
    }

    /** The upcall program's name: RPCTLSSD, or rpc.tlsclntd's RPCTLSCD. */
    private String serviceName() {
        return client != null ? "RPCTLSCD" : "RPCTLSSD";
    }

    /** What the metrics' gauges read: this daemon's live state, when scraped. */
    private final class Gauges implements MetricsServer.Sources {
        @Override
        public String version() {
            return org.rpctlsservd.cli.Cli.version();
        }

        @Override
        public int backendGraceSeconds() {
            return org.rpctlsservd.frontend.BackendHealth.GRACE_SECONDS;
        }

        @Override
        public int connectQueue() {
            return workers.queued();
        }

        @Override
        public int workersBusy() {
            return workers.running();
        }

        @Override
        public int sessions() {
            return sessions.size();
        }

        @Override
        public int[] frontEndConnections() {
            FrontEnd fe = frontEnd;
            return fe == null ? new int[2] : fe.connectionsByState();
        }

        @Override
        public long frontEndMemory() {
            FrontEnd fe = frontEnd;
            return fe == null ? 0 : fe.budget().used();
        }

        @Override
        public long frontEndMemoryLimit() {
            FrontEnd fe = frontEnd;
            return fe == null ? 0 : fe.budget().limit();
        }

        /** Each backend failing past its grace, named with the option that gave it: one failing relay makes the daemon unready. */
        @Override
        public java.util.List<String> unready() {
            FrontEnd fe = frontEnd;
            if (fe == null) {
                return java.util.List.of();
            }
            java.util.List<String> out = new java.util.ArrayList<>();
            for (org.rpctlsservd.frontend.BackendHealth.Problem p : fe.backendHealth().problems()) {
                boolean fromBackend = !config.listen().isEmpty() && p.backend().equals(config.backend());
                out.add(p.describe(config.program() == org.rpctlsservd.cli.Opt.Side.CLIENT ? "--connect" : fromBackend ? "--backend" : "--relay"));
            }
            return out;
        }

        @Override
        public java.util.Map<String, Boolean> backends() {
            FrontEnd fe = frontEnd;
            return fe == null ? java.util.Map.of() : fe.backendHealth().reachable();
        }

        @Override
        public java.util.Optional<Long> certificateExpiry() {
            ServerTls e = engine;
            if (e == null || e.credentials().chain().isEmpty()) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(ServerCredentials.validity(e.credentials().chain().get(0))[1].getEpochSecond());
        }

        @Override
        public java.util.Optional<Long> crlNextUpdate() {
            ServerTls e = engine;
            TrustMaterial t = e == null ? null : e.trust();
            return t == null ? java.util.Optional.empty() : t.crlNextUpdate().map(d -> d.getTime() / 1000);
        }
    }

    /** The metrics server, when --metrics asked for one. */
    public MetricsServer metrics() {
        return metrics;
    }

    /** A start that failed half-way gives back what it had started. */
    private void releaseStarted(RpcServer startedServer, StreamRpcServer startedLocal) {
        if (metrics != null) {
            metrics.close();
        }
        if (startedServer != null) {
            startedServer.close();
        }
        if (startedLocal != null) {
            closeLocal(startedLocal);
        }
        workers.close();
        if (engine != null) {
            engine.close();
        }
        if (client != null) {
            client.close();
        }
        timer.shutdownNow();
        reloader.shutdownNow();
    }

    /** Starts the daemon with a given handshake step (no pidfile, no signals: those belong to {@link Main}). */
    public static Daemon start(Config config, Handshaker handshaker) throws IOException {
        return new Daemon(config, timer -> new Handshaking(handshaker, null));
    }

    /** Starts the daemon with its TLS engine, set up from {@code config}. */
    public static Daemon start(Config config) throws IOException, TlsSetup.SetupException {
        return start(config, TlsSetup.material(config));
    }

    /** Starts the daemon with its TLS engine made of {@code tls}, already read from {@code config} (by the start's checks). */
    public static Daemon start(Config config, TlsSetup.Material tls) throws IOException {
        NameService names = new NameService(30_000);
        return new Daemon(config, timer -> {
            try {
                ServerTls engine = ServerTls.start(tls.policy(), tls.credentials(), tls.trust(), names, timer);
                return new Handshaking(engine, engine);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    /**
     * Starts rpc.tlsclntd: the RPCTLSCD service whose CONNECT runs {@code tls}'s client handshakes, and with
     * --connect the connector. {@code tls} is the daemon's from then on, closed with it.
     */
    public static Daemon startClient(Config config, ClientTls tls) throws IOException {
        if (config.program() != org.rpctlsservd.cli.Opt.Side.CLIENT) {
            throw new IllegalArgumentException("rpc.tlsclntd's options, not rpc.tlsservd's");
        }
        return new Daemon(config, timer -> new Handshaking(null, null, tls));
    }

    /** Starts rpc.tlsclntd with its client TLS engine, set up from {@code config} (ClientSetup's files, read again). */
    public static Daemon startClient(Config config) throws IOException {
        ClientPolicy policy = ClientSetup.policy(config);
        TrustMaterial trust = ClientSetup.trust(config);
        if (config.program() != org.rpctlsservd.cli.Opt.Side.CLIENT) {
            throw new IllegalArgumentException("rpc.tlsclntd's options, not rpc.tlsservd's");
        }
        return new Daemon(config, timer -> {
            try {
                return new Handshaking(null, null, ClientTls.start(policy, trust, timer));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    /** The RFC 9289 front end, when --listen asked for one (rpc.tlsclntd: the connector, with --connect). */
    public FrontEnd frontEnd() {
        return frontEnd;
    }

    /** The TLS engine, when the daemon runs one. */
    public ServerTls engine() {
        return engine;
    }

    /** Reloads done so far (for tests and monitoring). */
    public synchronized int reloads() {
        return reloadCount;
    }

    /** Reloads that kept something old because the new one was refused (counted in {@link #reloads()} too). */
    public synchronized int failedReloads() {
        return failedReloads;
    }

    /** When each reload ran (System.nanoTime), oldest first; the last 100 are kept. */
    public synchronized java.util.List<Long> reloadTimes() {
        return java.util.List.copyOf(reloadTimes);
    }

    public int port() {
        return server.port();
    }

    public RpcServer server() {
        return server;
    }

    public SocketHandoff handoff() {
        return handoff;
    }

    public SessionTable sessions() {
        return sessions;
    }

    public HandshakeWorkers workers() {
        return workers;
    }

    public Registration registration() {
        return registration;
    }

    /**
     * SIGHUP: reload the server certificate and key, (with -r) the CRL and the allow-lists, at most once per 250 ms;
     * requests in between are served by one reload at the end of the interval.
     */
    public synchronized void reload() {
        if (closed || reloadPending) {
            return;
        }
        reloadPending = true;
        long wait = Math.max(0, lastReload + RELOAD_DELAY_NANOS - System.nanoTime());
        reloader.schedule(this::doReload, wait, TimeUnit.NANOSECONDS);
    }

    private void doReload() {
        synchronized (this) {
            reloadPending = false;
            lastReload = System.nanoTime();
            if (closed) {
                return;
            }
        }
        boolean ok = false;
        try {
            // every part runs, whatever the one before gave: a refused file must not hold back a new CRL
            ok = client != null ? reloadClientCrl() & reloadClientLogLevel()
                    : engine == null || reloadCredentials() & reloadAllowList() & reloadCrl();
            if (engine != null) {
                shutOffRefusedSessions();
            } else if (client != null && client.trust() != null) {
                established.shutOffRefused(client.trust()); // as FreeBSD's rpctls_checkcrl: a revoked server's sessions end now
            }
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "reload failed", e);
        }
        Metrics.reload(ok);
        synchronized (this) {
            if (reloadTimes.size() == 100) {
                reloadTimes.remove(0);
            }
            reloadTimes.add(lastReload);
            reloadCount++;
            if (!ok) {
                failedReloads++;
            }
        }
        afterReload.run();
    }

    /** {@code r} runs after each reload, on the daemon's reload thread. */
    public void afterReload(Runnable r) {
        afterReload = r;
    }

    /** False when the new certificate and key were refused (the old ones stay). */
    private boolean reloadCredentials() {
        if (config.throwawayCert()) {
            return true;
        }
        try {
            ServerCredentials c = ServerCredentials.load(config.certDir(), TlsSetup.keySource(config));
            engine.replaceCredentials(c);
            LOG.info("reloaded the server certificate and key (" + c.source() + ")");
            return true;
        } catch (IOException e) {
            LOG.warning("refused the new server certificate and key, keeping the old ones: " + e.getMessage());
            return false;
        }
    }

    /** False when the CRL file could not be read again (the old CRLs stay); an entry gone from the file stops counting. */
    private boolean reloadCrl() {
        TrustMaterial current = engine.trust();
        if (config.crlFile() == null || current == null) {
            return true;
        }
        try {
            engine.replaceTrust(current.withCrls(config.crlFile()));
            return true;
        } catch (IOException e) {
            LOG.fine(() -> "rpc.tlsservd: Can't reload CRLfile: " + e.getMessage());
            return false;
        }
    }

    /** A changed --log-level (or -v) in force from now on, said in one line: under the old level or the new, whichever shows it. */
    private static void applyLogLevel(Config before, Config now) {
        if (!now.logLevel().equals(before.logLevel())) {
            String line = "reloaded the log level: " + now.logLevelName();
            // said once the new level is in force (what a reader of the line may rely on), or before it when it hides the line
            boolean newShows = now.logLevel().intValue() <= Level.INFO.intValue();
            if (!newShows) {
                LOG.info(line);
            }
            Logging.level(now.logLevel());
            if (newShows) {
                LOG.info(line);
            }
        }
    }

    /**
     * rpc.tlsclntd: the log level as the command line and the --config file give it now; everything
     * else of theirs waits for a restart, as it always has on this side. False when the file cannot
     * be read or parsed (the level in force stays, one line says why).
     */
    private boolean reloadClientLogLevel() {
        Reread r = reread();
        if (r == null) {
            return true;
        }
        if (r.error() != null) {
            LOG.warning("reload: cannot read the configuration, keeping the log level in force: " + r.error());
            return false;
        }
        Config before = inForce;
        inForce = r.config();
        applyLogLevel(before, r.config());
        java.util.List<String> restart = config.restartOnlyChanges(r.config());
        if (!restart.isEmpty()) { // said at each reload until a restart applies them
            LOG.warning("reload: the configuration changes " + String.join(", ", restart) + ", which only a restart applies");
        }
        return true;
    }

    /** The options read again, or the first line of why they could not be. */
    private record Reread(Config config, String error) {
    }

    /** The options as the command line and the --config file give them now; null when there is nowhere to read them from. */
    private Reread reread() {
        java.util.concurrent.Callable<Config> source = configSource;
        if (source == null) {
            return null;
        }
        try {
            return new Reread(source.call(), null);
        } catch (Exception e) {
            return new Reread(null, String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
    }

    /** rpc.tlsclntd: -r's CRL read again for new handshakes; false when it could not be (the old CRLs stay). */
    private boolean reloadClientCrl() {
        TrustMaterial current = client.trust();
        if (config.crlFile() == null || current == null) {
            return true;
        }
        try {
            client.replaceTrust(current.withCrls(config.crlFile()));
            LOG.info("reloaded the CRL (" + config.crlFile() + ")");
            return true;
        } catch (IOException e) {
            LOG.warning("rpc.tlsclntd: Can't reload CRLfile, keeping the old CRLs: " + e.getMessage());
            return false;
        }
    }

    /**
     * The allow-lists as the command line and the --config file give them now; false when the
     * options are refused, whole: the old allow-lists stay, and one line says why. Refused: a file
     * that cannot be read or parsed (an empty one, one that does not end in a newline), one that
     * changes an option that needs a restart, one that drops an allow-list in force. Each can be
     * a file caught half-written, and none may widen access.
     */
    private boolean reloadAllowList() {
        Reread r = reread();
        if (r == null) {
            return true;
        }
        if (r.error() != null) {
            return refuse(r.error());
        }
        Config now = r.config();
        Config before = inForce;
        java.util.List<String> restart = before.restartOnlyChanges(now);
        if (!restart.isEmpty()) {
            return refuse("it changes " + String.join(", ", restart) + ", which only a restart applies");
        }
        java.util.List<String> dropped = before.droppedRestrictions(now);
        if (!dropped.isEmpty()) {
            return refuse("it drops the " + String.join(" and the ", dropped) + " in force (a file cut short?);"
                    + " to let every verified certificate in, restart");
        }
        inForce = now;
        applyLogLevel(before, now);
        TrustMaterial current = engine.trust();
        AllowList fresh = TlsSetup.allowList(now);
        if (current != null && !fresh.equals(current.allowList())) {
            engine.replaceTrust(current.withAllowList(fresh));
            LOG.info("reloaded the allow-lists: " + (fresh.restricts() ? fresh : "every verified certificate"));
        }
        return true;
    }

    private static boolean refuse(String why) {
        LOG.warning("reload: refused the configuration, keeping the old allow-lists and options: " + why);
        return false;
    }

    /** Sessions whose verified certificate the trust now in force refuses (revoked, or off the allow-list) are shut off. */
    private void shutOffRefusedSessions() {
        TrustMaterial trust = engine.trust();
        if (trust == null) {
            return;
        }
        established.shutOffRefused(trust);
    }

    /** Where a reload reads the options again (the command line and its --config file); null: never. */
    private volatile java.util.concurrent.Callable<Config> configSource;

    /** {@code source} gives the options as they are now, for SIGHUP (the allow-lists). */
    public void rereadConfigWith(java.util.concurrent.Callable<Config> source) {
        configSource = source;
    }

    private void closeLocal(StreamRpcServer s) {
        s.close();
        try {
            java.nio.file.Files.deleteIfExists(config.rpcSocket());
        } catch (IOException e) {
            LOG.warning("cannot remove " + config.rpcSocket() + ": " + e.getMessage());
        }
    }

    /** Each program version a relay names, at the port its listener got. */
    private static java.util.List<org.rpctlsservd.rpcbind.RelayRegistrations.Wanted> programsToRegister(Config config, FrontEnd fe)
            throws IOException {
        java.util.List<org.rpctlsservd.rpcbind.RelayRegistrations.Wanted> wanted = new java.util.ArrayList<>();
        java.util.List<Relay> relays = config.allRelays();
        java.util.List<java.net.InetSocketAddress> bound = fe.addresses();
        for (int i = 0; i < relays.size(); i++) {
            java.net.InetSocketAddress at = new java.net.InetSocketAddress(relays.get(i).listen().getAddress(), bound.get(i).getPort());
            for (Relay.Program p : relays.get(i).programs()) {
                for (int v : p.versions()) {
                    wanted.add(new org.rpctlsservd.rpcbind.RelayRegistrations.Wanted(p.number(), p.name(), v, at));
                }
            }
        }
        return wanted;
    }

    /** Orderly stop: unregister, stop serving, end every session and parked socket. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (metrics != null) {
            metrics.notReady(); // at once: a balancer stops sending before the service goes
        }
        if (relayRegistrations != null) {
            relayRegistrations.close(); // first: no client is sent to a port that is closing
        }
        if (frontEnd != null) {
            frontEnd.close();
        }
        if (registration != null) {
            registration.close();
        }
        server.close();
        closeLocal(local);
        workers.close();
        if (engine != null) {
            engine.close();
        }
        if (client != null) {
            client.close();
        }
        sessions.abortAll();
        handoff.closeAll();
        timer.shutdownNow();
        reloader.shutdownNow();
        if (metrics != null) {
            metrics.close();
        }
        LOG.info("stopped");
    }

    /** The front end's part of the options. */
    static FrontEndSettings frontEndSettings(Config c) {
        if (!c.connects().isEmpty()) {
            return FrontEndSettings.connector(c.connects(), c.allowPlain(), c.idleTimeout(), c.upcallTimeout(), c.writeTimeout(),
                    c.ioThreads(), c.maxClients(), c.firstCallTimeout(), c.serverSourcePorts(), c.serverSources());
        }
        return new FrontEndSettings(c.allRelays(), c.require(), c.idleTimeout(), c.upcallTimeout(), c.writeTimeout(),
                c.ioThreads(), c.acceptProxyFrom(), c.backendProxy(), c.proxyHeaderTimeout(), c.maxClients(), c.firstCallTimeout(),
                c.backendSourcePorts(), c.backendSources());
    }
}
