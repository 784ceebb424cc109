package org.rpctlsservd.daemon;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.cli.UsageException;
import org.rpctlsservd.guard.Fatal;
import org.rpctlsservd.records.Providers;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The rpc.tlsservd process: options, pidfile, detaching (without -d), signals (SIGTERM and
 * SIGINT stop it cleanly with status 0, SIGHUP reloads), then the daemon until it is stopped.
 * Signal handlers are the first thing installed: a SIGHUP before the daemon is ready is
 * remembered and applied once it is, and a SIGTERM at any time ends the process within
 * {@link #STOP_DEADLINE_SECONDS} seconds, even when something hangs on the way out.
 */
public final class Main {
    /** Set in the environment of the detached child so it does not detach again. */
    static final String DETACHED_ENV = "RPCTLSSERVD_DETACHED";
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private Main() {
    }

    /** Lets --key-uri find a PKCS#11 token by its label (certs.TokenSlots); the launcher passes the same. */
    static final String TOKEN_LABELS = "--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED";

    /** Said once at start when SIGHUP came ignored. */
    static final String HUP_IGNORED = "SIGHUP was ignored when the daemon started (under nohup?): reloads will not work;"
            + " start it through the rpc.tlsservd launcher, or under env --default-signal=HUP";

    /** How long an orderly stop may take before the process is halted (status 1). */
    static final int STOP_DEADLINE_SECONDS = 8;

    /**
     * What differs between the two daemons' processes, rpc.tlsservd and rpc.tlsclntd ({@link ClientMain}); the
     * rest (options, detaching, pidfile, signals, logging, readiness) is this class's, for both.
     */
    interface Kind {
        Opt.Side side();

        String defaultProgname();

        /** The upcall service's name in the C daemon's messages: rpctlssd, rpctlscd. */
        String serviceName();

        /** The class a detached child runs. */
        Class<?> mainClass();

        /** The checks before detaching (on the terminal): their warnings, and how to start with what they read. */
        Prepared prepare(Config config) throws Preflight.Refused;

        /** A detached child's start: it reads everything itself. */
        Daemon start(Config config) throws IOException, TlsSetup.SetupException;
    }

    /** What a start's checks found: warnings to say, and the start that serves with what they read. */
    record Prepared(List<String> warnings, Starter start) {
    }

    @FunctionalInterface
    interface Starter {
        Daemon start() throws IOException, TlsSetup.SetupException;
    }

    /** rpc.tlsservd. */
    static final Kind SERVER = new Kind() {
        @Override
        public Opt.Side side() {
            return Opt.Side.SERVER;
        }

        @Override
        public String defaultProgname() {
            return Cli.DEFAULT_PROGNAME;
        }

        @Override
        public String serviceName() {
            return "rpctlssd";
        }

        @Override
        public Class<?> mainClass() {
            return Main.class;
        }

        @Override
        public Prepared prepare(Config config) throws Preflight.Refused {
            Preflight.Checked checked = Preflight.run(config);
            return new Prepared(checked.warnings(), () -> Daemon.start(config, checked.tls()));
        }

        @Override
        public Daemon start(Config config) throws IOException, TlsSetup.SetupException {
            return Daemon.start(config);
        }
    };

    /** Signals that arrived before or while the daemon runs. */
    static final class Signals {
        final CountDownLatch stop = new CountDownLatch(1);
        final SystemdNotify systemd = SystemdNotify.fromEnvironment();
        private Daemon daemon;
        private boolean reloadPending;
        /** SIGHUP came ignored (nohup): the JVM then leaves it ignored and installs no handler. */
        boolean hupIgnored;

        synchronized void hup() {
            if (daemon != null) {
                systemd.reloading();
                daemon.reload();
            } else {
                reloadPending = true; // applied once the daemon is ready
            }
        }

        synchronized void ready(Daemon d) {
            daemon = d;
            d.afterReload(systemd::ready);
            systemd.ready();
            if (reloadPending) {
                reloadPending = false;
                LOG.info("applying a SIGHUP received while starting");
                d.reload();
            }
        }

        void term() {
            if (stop.getCount() == 0) {
                return;
            }
            stop.countDown();
            systemd.stopping();
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(STOP_DEADLINE_SECONDS * 1000L);
                } catch (InterruptedException e) {
                    return;
                }
                LOG.severe("not stopped within " + STOP_DEADLINE_SECONDS + " s of SIGTERM: halting");
                Runtime.getRuntime().halt(1);
            }, "stop-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
    }

    public static void main(String[] args) {
        main(args, SERVER);
    }

    /** {@code kind}'s process, until SIGTERM. */
    static void main(String[] args, Kind kind) {
        Signals signals = new Signals();
        // HotSpot keeps an inherited SIG_IGN of SIGHUP and says so by returning SIG_IGN; no API can override it.
        signals.hupIgnored = Signal.handle(new Signal("HUP"), s -> signals.hup()) == SignalHandler.SIG_IGN;
        Signal.handle(new Signal("TERM"), s -> signals.term());
        Signal.handle(new Signal("INT"), s -> signals.term());
        Fatal.install();
        System.exit(run(args, System.out, System.err, signals, kind));
    }

    static int run(String[] args, PrintStream out, PrintStream err, Signals signals) {
        return run(args, out, err, signals, SERVER);
    }

    static int run(String[] args, PrintStream out, PrintStream err, Signals signals, Kind kind) {
        String progname = System.getProperty("rpctlsservd.progname", kind.defaultProgname());
        // The JCA's first use overlaps the parsing and checks below; the start waits for it (Providers.prepare).
        Thread jca = new Thread(() -> {
            try {
                Providers.prepare();
            } catch (Throwable e) { // said by the start's own call, where it stops the daemon
            }
        }, "jca-init");
        jca.setDaemon(true);
        jca.start();
        Cli cli = Cli.forThisHost(kind.side(), progname);
        if (Cli.wantsHelp(args)) {
            out.print(cli.help());
            return 0;
        }
        if (Cli.wantsVersion(args)) {
            out.println(progname + " " + Cli.version());
            return 0;
        }
        Config config;
        try {
            config = cli.parse(args);
        } catch (UsageException e) {
            err.println(e.getMessage());
            return 1;
        }
        boolean detached = System.getenv(DETACHED_ENV) != null;
        try {
            Providers.checkSetting(); // on the terminal, before --check says valid or the daemon detaches
        } catch (IllegalArgumentException e) {
            err.println(progname + ": " + e.getMessage());
            return 1;
        }
        List<String> warnings = List.of();
        Starter start = () -> kind.start(config); // a detached child reads everything itself
        if (!detached || config.checkOnly()) {
            // Checked before detaching, so the errors reach the terminal; --check runs these alone.
            try {
                Prepared prepared = kind.prepare(config);
                warnings = prepared.warnings();
                start = prepared.start(); // serves with what the checks read
            } catch (Preflight.Refused e) {
                err.println(progname + ": " + e.getMessage());
                return 1;
            }
            if (!config.foreground() || config.checkOnly()) {
                for (String w : warnings) {
                    err.println(progname + ": warning: " + w); // on the terminal; with -d they go to the log below
                }
            }
            if (config.checkOnly()) {
                out.println(progname + ": configuration is valid");
                return 0;
            }
        }
        if (!config.foreground() && !detached) {
            if (signals.hupIgnored) {
                err.println(progname + ": warning: " + HUP_IGNORED); // on the terminal; the detached daemon logs it too
            }
            return detach(progname, config, args, err, kind);
        }
        Logging.configure(config.logLevel(), config.foreground() ? Logging.forStderr() : Logging.Style.SYSLOG, config.syslogFacility(), err);
        if (signals.hupIgnored) {
            LOG.warning(HUP_IGNORED);
        }
        warnings.forEach(LOG::warning);
        PidFile pidFile = null;
        if (config.pidFile() != null) {
            try {
                pidFile = PidFile.acquire(config.pidFile());
            } catch (PidFile.AlreadyRunningException e) {
                err.println(progname + ": " + e.saying(kind.serviceName()));
                return 1;
            } catch (IOException e) {
                // Without its lock a second instance could start beside this one: refuse rather than run unguarded.
                LOG.severe(PidFile.cannotCreate(config.pidFile(), e));
                return 1;
            }
        }
        LOG.info("starting (pid " + ProcessHandle.current().pid() + ")");
        try {
            if (jca.isAlive()) {
                jca.join(TimeUnit.SECONDS.toMillis(10));
            }
            Providers.prepare(); // at once when the thread did it; else here, with its error
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.severe("interrupted while starting");
            closePid(pidFile);
            return 1;
        } catch (IllegalArgumentException | java.security.GeneralSecurityException | LinkageError | SecurityException e) {
            LOG.severe(e.getMessage());
            closePid(pidFile);
            return 1;
        }
        Daemon daemon;
        try {
            daemon = start.start();
        } catch (IOException | TlsSetup.SetupException e) {
            LOG.severe(e.getMessage());
            closePid(pidFile);
            return 1;
        }
        daemon.rereadConfigWith(() -> cli.parse(args)); // SIGHUP: the allow-lists as the command line and --config give them now
        signals.ready(daemon);
        Providers.loadInBackground(LOG::info); // after READY=1: the native provider's load is not the start's to wait for
        try {
            signals.stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (Providers.callOffLoading()) { // a stop within a second of READY: its native library not copied out of the jar now
            LOG.fine("stop: the native crypto provider's background load called off");
        }
        daemon.close();
        try {
            // ... and one being copied is waited for, so that its loader deletes the copy
            switch (org.rpctlsservd.records.NativeCopies.awaitCopy(java.time.Duration.ofSeconds(2))) {
                case WAITED -> LOG.fine("stop: waited for the native crypto provider's library copy to be deleted");
                case TIMED_OUT -> LOG.warning("stopped while the native crypto provider was still loading: a temporary copy of its"
                        + " library may be left in " + org.rpctlsservd.records.NativeCopies.directory() + " (a start a minute or more later removes it)");
                default -> { }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closePid(pidFile);
        return 0;
    }

    private static void closePid(PidFile pidFile) {
        if (pidFile != null) {
            try {
                pidFile.close();
            } catch (IOException e) {
                LOG.warning("cannot remove pidfile: " + e.getMessage());
            }
        }
    }

    /** The parent's JVM options the detached child needs too: the heap, and settings of ours (-Drpctlsservd.recordCrypto) and java.io.tmpdir. */
    private static List<String> childOptions() {
        List<String> out = new ArrayList<>();
        for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-Xmx") || a.startsWith("-Xms") || a.startsWith("-XX:MaxRAMPercentage")
                    || (a.startsWith("-Drpctlsservd.") && !a.startsWith("-Drpctlsservd.progname=")) || a.startsWith("-Djava.io.tmpdir=")) {
                out.add(a);
            }
        }
        return out;
    }

    /**
     * Without -d the daemon runs detached, as daemon(3) would make it: the same command in a new
     * session with stdin from /dev/null and its log lines going to syslog through logger(1).
     */
    private static int detach(String progname, Config config, String[] args, PrintStream err, Kind kind) {
        if (config.pidFile() != null) {
            try {
                PidFile.checkFree(config.pidFile());
                PidFile.checkCreatable(config.pidFile()); // said here, on the terminal, not only in syslog
            } catch (PidFile.AlreadyRunningException e) {
                err.println(progname + ": " + e.saying(kind.serviceName()));
                return 1;
            } catch (IOException e) {
                err.println(progname + ": " + PidFile.cannotCreate(config.pidFile(), e));
                return 1;
            }
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(java);
        cmd.add("-XX:+ExitOnOutOfMemoryError");
        cmd.add(TOKEN_LABELS);
        cmd.addAll(childOptions());
        cmd.add("-Drpctlsservd.progname=" + progname);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(kind.mainClass().getName());
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder child = new ProcessBuilder(cmd).redirectInput(Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true);
        child.environment().put(DETACHED_ENV, "1");
        ProcessBuilder logger = new ProcessBuilder("logger", "--prio-prefix", "-t", progname)
                .redirectOutput(Redirect.DISCARD).redirectError(Redirect.DISCARD);
        try {
            ProcessBuilder.startPipeline(List.of(child, logger));
            return 0;
        } catch (IOException e) {
            err.println(progname + ": Can't daemonize: " + e.getMessage());
            return 1;
        }
    }
}
