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
import java.util.logging.Logger;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.UsageException;
import sun.misc.Signal;

/**
 * The rpc.tlsservd process: options, pidfile, detaching (without -d), signals (SIGTERM and
 * SIGINT stop it cleanly with status 0, SIGHUP reloads), then the daemon until it is stopped.
 */
public final class Main {
    /** Set in the environment of the detached child so it does not detach again. */
    static final String DETACHED_ENV = "RPCTLSSERVD_DETACHED";
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        String progname = System.getProperty("rpctlsservd.progname", Cli.DEFAULT_PROGNAME);
        Cli cli = Cli.forThisHost(progname);
        if (Cli.wantsHelp(args)) {
            out.print(cli.help());
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
        if (!detached) {
            // The TLS context is checked before detaching, so its errors reach the terminal.
            try {
                TlsSetup.policy(config);
                TlsSetup.credentials(config);
                TlsSetup.trust(config);
            } catch (TlsSetup.SetupException e) {
                err.println(progname + ": " + e.getMessage());
                return 1;
            }
        }
        if (!config.foreground() && !detached) {
            return detach(progname, config, args, err);
        }
        Logging.configure(config.verbose(), !config.foreground(), err);
        PidFile pidFile = null;
        try {
            pidFile = PidFile.acquire(config.pidFile());
        } catch (PidFile.AlreadyRunningException e) {
            err.println(progname + ": " + e.getMessage());
            return 1;
        } catch (IOException e) {
            LOG.warning("cannot open or create pidfile " + config.pidFile() + ": " + e.getMessage());
        }
        Daemon daemon;
        try {
            daemon = Daemon.start(config);
        } catch (IOException | TlsSetup.SetupException e) {
            LOG.severe(e.getMessage());
            closePid(pidFile);
            return 1;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        Signal.handle(new Signal("HUP"), s -> daemon.reload());
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        daemon.close();
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

    /**
     * Without -d the daemon runs detached, as daemon(3) would make it: the same command in a new
     * session with stdin from /dev/null and its log lines going to syslog through logger(1).
     */
    private static int detach(String progname, Config config, String[] args, PrintStream err) {
        try {
            PidFile.checkFree(config.pidFile());
        } catch (PidFile.AlreadyRunningException e) {
            err.println(progname + ": " + e.getMessage());
            return 1;
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(java);
        cmd.add("-Drpctlsservd.progname=" + progname);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
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
