package org.rpctlsservd.support;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A daemon (rpc.tlsservd, or rpc.tlsclntd with {@link #startClient}) as a separate process, started
 * by its launcher on the packaged jar with a capped heap, and looked at from outside: its log, file
 * descriptors, threads, heap and CPU time, as an administrator would with /proc and jcmd.
 */
public final class DaemonProcess extends LoggedProcess {
    /** What rpc.tlsservd's log says once it serves. */
    public static final String SERVING = "serving RPCTLSSD";
    /** What rpc.tlsclntd's log says once it serves RPCTLSCD (and its connectors listen). */
    public static final String CLIENT_SERVING = "serving RPCTLSCD";
    /** rpc.tlsclntd's audit line of a client handshake: the server's address, the result, the reason of a failure. */
    public static final Pattern CLIENT_HANDSHAKE = Pattern.compile("handshake server=(\\S+) .*result=(\\w+)(?: .*reason=\"([^\"]*)\")?");

    public final int frontEndPort;

    private DaemonProcess(Process process, Path log, int frontEndPort) {
        super(process, log);
        this.frontEndPort = frontEndPort;
    }

    /** Starts {@code java jvmOptions Main args} and waits until it serves (and its front end listens, with --listen). */
    public static DaemonProcess start(Path dir, List<String> jvmOptions, List<String> prefix, String... args) throws Exception {
        return serving(launch(dir, jvmOptions, prefix, args), dir);
    }

    /** A process from {@link #launch}, once it serves. */
    public static DaemonProcess serving(Process p, Path dir) {
        return awaitServing(p, dir.resolve("daemon.log"), SERVING, "the daemon");
    }

    /**
     * Starts the daemon through the launcher, tools/rpc.tlsservd (which adds -XX:+ExitOnOutOfMemoryError),
     * on the packaged jar, as an administrator would; {@code jvmOptions} go to RPCTLSSERVD_JAVA_OPTS and
     * {@code prefix} before the launcher (prlimit, for example). Returns at once; the output goes to
     * {@code dir/daemon.log}.
     */
    public static Process launch(Path dir, List<String> jvmOptions, List<String> prefix, String... args) throws Exception {
        return launch("rpc.tlsservd", dir, jvmOptions, prefix, args);
    }

    /**
     * rpc.tlsclntd as {@link #start} starts rpc.tlsservd: through tools/rpc.tlsclntd, output in
     * {@code dir/daemon.log}, until it serves RPCTLSCD.
     */
    public static DaemonProcess startClient(Path dir, List<String> jvmOptions, String... args) throws Exception {
        return awaitServing(launch("rpc.tlsclntd", dir, jvmOptions, List.of(), args), dir.resolve("daemon.log"), CLIENT_SERVING,
                "rpc.tlsclntd");
    }

    private static Process launch(String launcher, Path dir, List<String> jvmOptions, List<String> prefix, String... args)
            throws Exception {
        Files.createDirectories(dir);
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of("tools", launcher).toAbsolutePath().toString());
        cmd.addAll(Arrays.asList(args));
        return Commands.startLogged(cmd, dir.resolve("daemon.log"),
                Map.of("RPCTLSSERVD_JAVA_OPTS", String.join(" ", jvmOptions), "RPCTLSSERVD_JAR", packagedJar().toString()));
    }

    /** The runnable jar that {@code package} made. */
    static Path packagedJar() throws IOException {
        try (var files = Files.list(Path.of("target"))) {
            return files.filter(f -> f.getFileName().toString().matches("rpc-tlsservd-.*-all\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no target/rpc-tlsservd-*-all.jar: run after package (mvn verify)"))
                    .toAbsolutePath();
        }
    }

    private static DaemonProcess awaitServing(Process p, Path log, String serving, String what) {
        awaitLine(p, log, serving, what, 60);
        Matcher m = Pattern.compile("front end: RPC-over-TLS on [0-9.]+:(\\d+)").matcher(read(log));
        return new DaemonProcess(p, log, m.find() ? Integer.parseInt(m.group(1)) : 0);
    }

    /** rpc.tlsclntd's client handshakes so far: the {@code result=} of each, in order ("ok", "failed"). */
    public List<String> handshakeResults() {
        List<String> out = new ArrayList<>();
        Matcher m = CLIENT_HANDSHAKE.matcher(log());
        while (m.find()) {
            out.add(m.group(2));
        }
        return out;
    }

    /** rpc.tlsclntd's failed client handshakes so far: their reasons. */
    public List<String> failureReasons() {
        List<String> out = new ArrayList<>();
        Matcher m = CLIENT_HANDSHAKE.matcher(log());
        while (m.find()) {
            if (!"ok".equals(m.group(2)) && m.group(3) != null) {
                out.add(m.group(3));
            }
        }
        return out;
    }

    /** Open file descriptors. */
    public int fds() {
        String[] l = new File("/proc/" + pid() + "/fd").list();
        return l == null ? -1 : l.length;
    }

    /** The names of its threads (as the kernel keeps them: 15 characters at most). */
    public List<String> threads() throws IOException {
        List<String> out = new ArrayList<>();
        File[] tasks = new File("/proc/" + pid() + "/task").listFiles();
        if (tasks != null) {
            for (File t : tasks) {
                try {
                    out.add(Files.readString(t.toPath().resolve("comm")).trim());
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return out;
    }

    /** User plus system CPU time so far, in seconds. */
    public double cpuSeconds() throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid() + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in clock ticks (USER_HZ 100)
    }

    /**
     * CPU seconds so far by kind of thread: the kernel's thread name with its number taken off, so
     * "C2 CompilerThre", "GC Thread#", "frontend-io-" each sum their threads. Threads that ended are not counted.
     */
    public java.util.Map<String, Double> cpuSecondsByThreadKind() {
        return cpuSecondsByThreadKind(pid());
    }

    /** {@link #cpuSecondsByThreadKind()} of any process. */
    public static java.util.Map<String, Double> cpuSecondsByThreadKind(long pid) {
        java.util.Map<String, Double> out = new java.util.TreeMap<>();
        File[] tasks = new File("/proc/" + pid + "/task").listFiles();
        for (File t : tasks == null ? new File[0] : tasks) {
            try {
                String kind = Files.readString(t.toPath().resolve("comm")).strip().replaceAll("[0-9]+$", "");
                String stat = Files.readString(t.toPath().resolve("stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                out.merge(kind, (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0, Double::sum);
            } catch (IOException e) {
                // the thread ended meanwhile
            }
        }
        return out;
    }

    /** Live heap after a full collection, in MiB (jcmd GC.class_histogram, which collects first, then counts). */
    public long heapUsedMiB() throws Exception {
        return heapUsedBytes() / (1024 * 1024);
    }

    /** Live heap after a full collection, in bytes. */
    public long heapUsedBytes() throws Exception {
        // One command that collects and counts: the live objects after a full GC. (GC.run, then GC.heap_info
        // in a second attach, also counted what a flood allocated in between: up to 75 MiB of garbage.)
        String last = Commands.run(60, "jcmd", String.valueOf(pid()), "GC.class_histogram").output().strip();
        last = last.substring(last.lastIndexOf('\n') + 1);
        Matcher m = Pattern.compile("Total\\s+\\d+\\s+(\\d+)").matcher(last);
        if (!m.find()) {
            throw new AssertionError("no heap figures from jcmd: " + last);
        }
        return Long.parseLong(m.group(1));
    }

    /**
     * SIGTERM, as an administrator stops it (and as the daemon then cleans up after itself: its
     * registration, its pid file, the native provider's library copy a load under way holds), then
     * SIGKILL if it is not gone within 10 s.
     */
    @Override
    public void close() {
        process.destroy();
        try {
            if (process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        super.close();
    }
}
