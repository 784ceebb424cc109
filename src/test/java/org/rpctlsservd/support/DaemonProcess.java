package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The daemon as a separate process, started by its launcher on the packaged jar with a capped
 * heap, and looked at from outside: its log, file descriptors, threads, heap and
 * CPU time, as an administrator would with /proc and jcmd.
 */
public final class DaemonProcess implements Closeable {
    public final Process process;
    public final Path log;
    public final int frontEndPort;

    private DaemonProcess(Process process, Path log, int frontEndPort) {
        this.process = process;
        this.log = log;
        this.frontEndPort = frontEndPort;
    }

    /** Starts {@code java jvmOptions Main args} and waits until it serves (and its front end listens, with --listen). */
    public static DaemonProcess start(Path dir, List<String> jvmOptions, List<String> prefix, String... args) throws Exception {
        return awaitServing(launch(dir, jvmOptions, prefix, args), dir.resolve("daemon.log"));
    }

    /** A process from {@link #launch}, once it serves. */
    public static DaemonProcess serving(Process p, Path dir) {
        return awaitServing(p, dir.resolve("daemon.log"));
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

    /** rpc.tlsclntd as {@link #start} starts rpc.tlsservd: through tools/rpc.tlsclntd, until it serves RPCTLSCD. */
    public static DaemonProcess startClient(Path dir, List<String> jvmOptions, String... args) throws Exception {
        return awaitServing(launchClient(dir, jvmOptions, args), dir.resolve("daemon.log"), "serving RPCTLSCD");
    }

    /** rpc.tlsclntd as {@link #launch} launches rpc.tlsservd. */
    public static Process launchClient(Path dir, List<String> jvmOptions, String... args) throws Exception {
        return launch("rpc.tlsclntd", dir, jvmOptions, List.of(), args);
    }

    private static Process launch(String launcher, Path dir, List<String> jvmOptions, List<String> prefix, String... args)
            throws Exception {
        Files.createDirectories(dir);
        Path log = dir.resolve("daemon.log");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of("tools", launcher).toAbsolutePath().toString());
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("RPCTLSSERVD_JAVA_OPTS", String.join(" ", jvmOptions));
        pb.environment().put("RPCTLSSERVD_JAR", packagedJar().toString());
        return pb.start();
    }

    /** The runnable jar that {@code package} made. */
    static Path packagedJar() throws IOException {
        try (var files = Files.list(Path.of("target"))) {
            return files.filter(f -> f.getFileName().toString().matches("rpc-tlsservd-.*-all\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no target/rpc-tlsservd-*-all.jar: run after package (mvn verify)"))
                    .toAbsolutePath();
        }
    }

    private static DaemonProcess awaitServing(Process p, Path log) {
        return awaitServing(p, log, "serving RPCTLSSD");
    }

    private static DaemonProcess awaitServing(Process p, Path log, String serving) {
        DaemonProcess d = new DaemonProcess(p, log, 0);
        try {
            Await.until(() -> d.log().contains(serving) || !p.isAlive(), "the daemon to start", 60);
        } catch (AssertionError e) {
            p.destroyForcibly();
            throw new AssertionError(e.getMessage() + ": " + d.log());
        }
        if (!p.isAlive()) {
            throw new AssertionError("the daemon did not start: " + d.log());
        }
        Matcher m = Pattern.compile("front end: RPC-over-TLS on [0-9.]+:(\\d+)").matcher(d.log());
        return new DaemonProcess(p, log, m.find() ? Integer.parseInt(m.group(1)) : 0);
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    public long pid() {
        return process.pid();
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

    /** SIGTERM; the exit status, or -1 when it did not end within {@code seconds}. */
    public int terminate(int seconds) throws InterruptedException {
        process.destroy();
        return process.waitFor(seconds, TimeUnit.SECONDS) ? process.exitValue() : -1;
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
