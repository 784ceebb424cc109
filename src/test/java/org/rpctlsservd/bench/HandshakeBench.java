package org.rpctlsservd.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.rpc.AsyncRpcClient;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_res;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * tools/bench-handshake: N full TLS 1.3 handshakes at concurrency K through the daemon (park,
 * CONNECT, client handshake, DISCONNECT), reporting handshakes per second and the CPU the daemon's
 * own threads spent per handshake (measured per thread, so the in-process clients do not count).
 * Not a test: run it to check the engine choice. Arguments: N K [ec|rsa] [-N value] [--mutual].
 */
public final class HandshakeBench {
    private HandshakeBench() {
    }

    public static void main(String[] args) throws Exception {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        boolean compare = all.remove("--compare");
        args = all.toArray(new String[0]);
        // --compare alone is issue 19's measure: 2,000 handshakes at 100 at once, -N 1
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : compare ? 100 : 8;
        boolean rsa = args.length > 2 && args[2].equals("rsa");
        List<String> extra = new ArrayList<>(Arrays.asList(args).subList(Math.min(3, args.length), args.length));
        boolean mutual = extra.remove("--mutual");
        // --client-groups LIST: a Bouncy Castle JSSE client offering these groups (X25519MLKEM768 for the hybrid)
        int cg = extra.indexOf("--client-groups");
        String clientGroups = null;
        if (cg >= 0) {
            clientGroups = extra.get(cg + 1);
            extra.remove(cg + 1);
            extra.remove(cg);
        }
        Logger.getLogger("").setLevel(Level.WARNING);
        Logger.getLogger("rpctlssd").setLevel(Level.WARNING);

        Path dir = Files.createTempDirectory("bench");
        TestPki.Ca ca = TestPki.ca("Bench CA");
        TestPki.Issued server = rsa ? ca.leaf("server").dns("localhost").rsa().issue() : ca.leaf("server").dns("localhost").issue();
        TestPki.Issued client = ca.leaf("client").dns("localhost").issue();
        TestPki.writeServer(dir.resolve("server"), server);
        Files.writeString(dir.resolve("ca.pem"), TestPki.pem(ca.cert()));
        List<String> opts = new ArrayList<>(List.of("-D", dir.resolve("server").toString(), "--no-rpcbind",
                "--pidfile", dir.resolve("pid").toString(), "--connect-queue", "100000",
                "--rpc-socket", dir.resolve("rpctlssd.sock").toString()));
        if (mutual) {
            opts.addAll(List.of("-m", "-l", dir.resolve("ca.pem").toString()));
        }
        opts.addAll(extra);
        Config c = new Cli("rpc.tlsservd", Runtime.getRuntime().availableProcessors(), "bench.example.org", h -> null)
                .parse(opts.toArray(new String[0]));
        SSLContext ctx = clientGroups != null ? TlsHarness.bcClient(ca, clientGroups)
                : TlsHarness.jdkClient(mutual ? client : null, ca, "TLSv1.3");
        if (compare) {
            compare(ctx, dir, opts, n, k, rsa);
            return;
        }
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (Daemon d = Daemon.start(c);
                ServerSocketChannel listener = ServerSocketChannel.open();
                AsyncRpcClient rpc = new AsyncRpcClient(java.net.UnixDomainSocketAddress.of(c.rpcSocket()),
                        rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, timer)) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            // the "kernel": accept, park, CONNECT (asynchronously), DISCONNECT when the client is done
            Thread acceptor = new Thread(() -> {
                while (listener.isOpen()) {
                    try {
                        SocketChannel sc = listener.accept();
                        long cookie = d.handoff().park(sc);
                        rpctlssd_connect_arg a = new rpctlssd_connect_arg();
                        a.socookie = cookie;
                        rpc.call(rpctlssd.RPCTLSSD_CONNECT_2, a, rpctlssd_connect_res::new, Duration.ofSeconds(60))
                                .thenCompose(res -> {
                                    rpctlssd_disconnect_arg da = new rpctlssd_disconnect_arg();
                                    da.socookie = cookie;
                                    return rpc.call(rpctlssd.RPCTLSSD_DISCONNECT_2, da, rpctlssd_disconnect_res::new, Duration.ofSeconds(60));
                                });
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            }, "bench-acceptor");
            acceptor.setDaemon(true);
            acceptor.start();

            run(ctx, port, Math.max(200, n / 4), k); // warm-up, so the JIT has compiled the hot paths
            Map<Long, Long> cpu0 = serverCpu();
            long t0 = System.nanoTime();
            long[] latencies = run(ctx, port, n, k);
            long elapsed = System.nanoTime() - t0;
            Map<Long, Long> cpu1 = serverCpu();
            long cpu = 0;
            Map<String, Long> byRole = new java.util.TreeMap<>();
            for (Map.Entry<Long, Long> e : cpu1.entrySet()) {
                long used = e.getValue() - cpu0.getOrDefault(e.getKey(), 0L);
                cpu += used;
                byRole.merge(ROLES.getOrDefault(e.getKey(), "?"), used, Long::sum);
            }
            Arrays.sort(latencies);
            System.out.printf("handshakes=%d concurrency=%d key=%s mutual=%s workers=%d%n", n, k, rsa ? "rsa2048" : "ecdsa-p256",
                    mutual, d.workers().maxThreads());
            System.out.printf("handshakes/s=%.0f server-cpu/handshake=%.0f us latency p50=%.2f ms p99=%.2f ms%n",
                    n / (elapsed / 1e9), cpu / 1e3 / n, latencies[n / 2] / 1e6, latencies[(int) (n * 0.99)] / 1e6);
            StringBuilder roles = new StringBuilder("server-cpu/handshake by thread:");
            byRole.forEach((role, used) -> roles.append(String.format(" %s=%.0fus", role, used / 1e3 / n)));
            System.out.println(roles);
            listener.close();
        } finally {
            timer.shutdownNow();
        }
    }

    /**
     * --compare: the same clients against the bare engine (the daemon's TLS server on Bouncy Castle's
     * blocking engine, nothing around it, {@link org.rpctlsservd.handshake.BareEngine}) and through the
     * daemon's front end (probe, park, CONNECT upcall over the Unix-domain socket, handshake on the
     * workers, DISCONNECT when the client goes), each server a JVM of its own with the same JVM options,
     * so that each one's whole CPU counts (every thread: GC and compilers too, from /proc) and the
     * clients' does not. Rounds of N on each, back to back; the ratio of the daemon's CPU per handshake
     * to the bare engine's. The daemon runs as Main runs it (-d, its log to a file), with -N 1 unless the
     * options say otherwise; BENCH_DAEMON_JVM adds JVM options to the daemon only (a JFR recording, say).
     */
    private static void compare(SSLContext ctx, Path dir, List<String> opts, int n, int k, boolean rsa) throws Exception {
        int rounds = Integer.getInteger("bench.rounds", 3);
        List<String> jvm = List.of("-Xmx512m", "-XX:+ExitOnOutOfMemoryError"); // what the launcher gives both by default
        int port = freePort();
        List<String> daemonArgs = new ArrayList<>(List.of("-d"));
        daemonArgs.addAll(opts);
        daemonArgs.addAll(List.of("--listen", "127.0.0.1:" + port, "--backend", "127.0.0.1:9"));
        if (!opts.contains("-N")) {
            daemonArgs.addAll(List.of("-N", "1"));
        }
        List<String> daemonJvm = new ArrayList<>(jvm);
        String extraJvm = System.getenv().getOrDefault("BENCH_DAEMON_JVM", "").trim();
        if (!extraJvm.isEmpty()) {
            daemonJvm.addAll(List.of(extraJvm.split("\\s+")));
        }
        Process bareProcess = child(dir.resolve("bare.log"), jvm, "org.rpctlsservd.handshake.BareEngine", List.of(dir.resolve("server").toString(),
                String.valueOf(k), dir.resolve("bare.port").toString()));
        Process daemonProcess = child(dir.resolve("daemon.log"), daemonJvm, "org.rpctlsservd.daemon.Main", daemonArgs);
        try {
            org.rpctlsservd.support.Await.until(() -> Files.exists(dir.resolve("bare.port")) || !bareProcess.isAlive(), "the bare engine", 60);
            org.rpctlsservd.support.Await.until(() -> logged(dir.resolve("daemon.log"), "serving RPCTLSSD") || !daemonProcess.isAlive(),
                    "the daemon", 60);
            if (!bareProcess.isAlive() || !daemonProcess.isAlive()) {
                throw new IllegalStateException("a server did not start: " + Files.readString(dir.resolve("bare.log"))
                        + Files.readString(dir.resolve("daemon.log")));
            }
            int barePort = Integer.parseInt(Files.readString(dir.resolve("bare.port")).strip());
            long bare = bareProcess.pid();
            long daemon = daemonProcess.pid();
            // Both warm before anything counts: batches of max(1000, N) on each until the JIT compilers of both took
            // under 5 % of their process's CPU in the last batch (at most bench.warmups batches). On two busy cores the
            // compiler threads lag behind, and the daemon has more code to compile than the bare engine: a fixed
            // warm-up left up to 0.9 ms of C2 per handshake in the rounds, which is start-up, not the handshake's cost.
            // The rounds still count every thread, the compilers included, and print their share.
            int warm = Math.max(1000, n);
            int maxWarmups = Integer.getInteger("bench.warmups", 8);
            for (int batch = 1;; batch++) {
                double bareShare = compilerShare(bare, () -> run(ctx, barePort, warm, k, false, false));
                double frontShare = compilerShare(daemon, () -> {
                    run(ctx, port, warm, k, true, false);
                    awaitIdle(port);
                });
                System.out.printf("warm-up %d: %d handshakes each, JIT compilers %.0f %% of the bare engine's CPU, %.0f %% of the daemon's%n",
                        batch, warm, bareShare * 100, frontShare * 100);
                if (bareShare < 0.05 && frontShare < 0.05 || batch >= maxWarmups) {
                    break;
                }
            }
            List<Double> bares = new ArrayList<>();
            List<Double> mine = new ArrayList<>();
            List<Double> ratios = new ArrayList<>();
            long bareSwitches = 0;
            long frontSwitches = 0;
            Map<String, Double> byKind = new java.util.TreeMap<>();
            Map<String, Double> bareByKind = new java.util.TreeMap<>();
            for (int round = 1; round <= rounds; round++) {
                Map<String, Double> b0 = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(bare);
                double bc0 = processCpu(bare);
                long s0 = switches(bare);
                long t0 = System.nanoTime();
                run(ctx, barePort, n, k, false, false);
                double bareRate = n / ((System.nanoTime() - t0) / 1e9);
                double bareUs = (processCpu(bare) - bc0) * 1e6 / n;
                bareSwitches += switches(bare) - s0;
                Map<String, Double> b1 = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(bare);
                diff(bareByKind, b0, b1);
                Map<String, Double> c0 = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(daemon);
                double dc0 = processCpu(daemon);
                s0 = switches(daemon);
                t0 = System.nanoTime();
                run(ctx, port, n, k, true, false);
                awaitIdle(port); // the last DISCONNECTs done
                double rate = n / ((System.nanoTime() - t0) / 1e9);
                double frontUs = (processCpu(daemon) - dc0) * 1e6 / n;
                frontSwitches += switches(daemon) - s0;
                Map<String, Double> c1 = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(daemon);
                diff(byKind, c0, c1);
                bares.add(bareUs);
                mine.add(frontUs);
                ratios.add(frontUs / bareUs); // each round's pair ran back to back: drift between rounds cancels
                System.out.printf("round %d: bare engine %.0f/s %.0f us, front end %.0f/s %.0f us per handshake: %.2fx"
                        + " (of which JIT compilers: bare %.0f us, front end %.0f us)%n", round, bareRate, bareUs, rate, frontUs,
                        frontUs / bareUs, compilersUs(b0, b1, n), compilersUs(c0, c1, n));
            }
            java.util.Collections.sort(ratios);
            java.util.Collections.sort(bares);
            java.util.Collections.sort(mine);
            double mb = bares.get(rounds / 2);
            double mf = mine.get(rounds / 2);
            System.out.printf("median: bare engine %.0f us, front end %.0f us per handshake (whole process, GC and compilers included):"
                    + " %.2fx the bare engine (median of the rounds' own ratios: %.2fx)%n", mb, mf, mf / mb, ratios.get(rounds / 2));
            int total = n * rounds;
            System.out.println(perKind("front end cpu/handshake by thread kind (all rounds):", byKind, total));
            System.out.println(perKind("bare engine cpu/handshake by thread kind (all rounds):", bareByKind, total));
            System.out.printf("context switches per handshake (all rounds, every thread): bare engine %.1f, front end %.1f%n",
                    bareSwitches / (double) total, frontSwitches / (double) total);
        } finally {
            daemonProcess.destroy();
            bareProcess.destroy();
            daemonProcess.waitFor(20, java.util.concurrent.TimeUnit.SECONDS); // an orderly stop: a JFR recording is written then
            bareProcess.destroyForcibly();
            daemonProcess.destroyForcibly();
        }
        System.out.printf("key=%s handshakes=%d x %d rounds concurrency=%d daemon=%s java=%s%n", rsa ? "rsa2048" : "ecdsa-p256", n, rounds, k,
                String.join(" ", daemonArgs.subList(daemonArgs.indexOf("--connect-queue"), daemonArgs.size())), System.getProperty("java.version"));
    }

    /** A run of handshakes. */
    private interface Batch {
        void run() throws Exception;
    }

    /** The share of process {@code pid}'s CPU that its JIT compiler threads took during {@code batch}. */
    private static double compilerShare(long pid, Batch batch) throws Exception {
        Map<String, Double> before = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(pid);
        batch.run();
        Map<String, Double> after = org.rpctlsservd.support.DaemonProcess.cpuSecondsByThreadKind(pid);
        double all = 0;
        double compilers = 0;
        for (Map.Entry<String, Double> e : after.entrySet()) {
            double used = e.getValue() - before.getOrDefault(e.getKey(), 0.0);
            all += used;
            if (e.getKey().contains("CompilerThre")) {
                compilers += used;
            }
        }
        return all <= 0 ? 0 : compilers / all;
    }

    /** A server JVM of its own on this classpath, its output to {@code log}. */
    private static Process child(Path log, List<String> jvm, String main, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }

    private static boolean logged(Path log, String what) {
        try {
            return Files.readString(log).contains(what);
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * Until the daemon has closed every client connection to {@code port} (none left established or
     * half-closed in /proc/net/tcp): it closes one only after its DISCONNECT was answered, so the
     * round's DISCONNECTs are done. Read from outside, so that waiting costs the daemon nothing (a
     * metrics scrape per look did: its code and the JVM series it reads were compiled in the rounds).
     */
    private static void awaitIdle(int port) {
        String local = String.format(":%04X ", port);
        org.rpctlsservd.support.Await.until(() -> {
            try (java.util.stream.Stream<String> lines = Files.lines(Path.of("/proc/net/tcp"))) {
                // sl local_address rem_address st: 01 ESTABLISHED, 08 CLOSE_WAIT
                return lines.skip(1).map(String::trim).map(l -> l.split("\\s+"))
                        .noneMatch(f -> (f[1] + " ").endsWith(local) && (f[3].equals("01") || f[3].equals("08")));
            } catch (IOException e) {
                return false;
            }
        }, "the daemon to close every client connection", 60);
    }

    /** User plus system CPU seconds of a process so far, every thread (GC and compilers too). */
    private static double processCpu(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in clock ticks (USER_HZ 100)
    }

    private static double compilersUs(Map<String, Double> before, Map<String, Double> after, int handshakes) {
        double sum = 0;
        for (Map.Entry<String, Double> e : after.entrySet()) {
            if (e.getKey().contains("CompilerThre")) {
                sum += e.getValue() - before.getOrDefault(e.getKey(), 0.0);
            }
        }
        return sum * 1e6 / handshakes;
    }

    private static void diff(Map<String, Double> into, Map<String, Double> before, Map<String, Double> after) {
        after.forEach((kind, v) -> into.merge(kind, v - before.getOrDefault(kind, 0.0), Double::sum));
    }

    private static String perKind(String title, Map<String, Double> seconds, int handshakes) {
        StringBuilder out = new StringBuilder(title);
        seconds.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed()).forEach(e -> {
            if (e.getValue() * 1e6 / handshakes >= 1) {
                out.append(String.format(" %s=%.0fus", e.getKey().strip(), e.getValue() * 1e6 / handshakes));
            }
        });
        return out.toString();
    }

    private static Map<Long, Long> cpu(java.util.function.Predicate<String> which) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<Long, Long> out = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (which.test(t.getName())) {
                long v = mx.getThreadCpuTime(t.getId());
                if (v >= 0) {
                    out.put(t.getId(), v);
                    ROLES.put(t.getId(), t.getName().replaceAll("-[0-9]+$", "").replaceAll("-[0-9]+-[0-9]+$", ""));
                }
            }
        }
        return out;
    }

    private static long[] run(SSLContext ctx, int port, int n, int k) throws Exception {
        return run(ctx, port, n, k, false, true);
    }

    /**
     * {@code probe}: first the RFC 9289 STARTTLS probe in clear text, as a client of the front end sends it;
     * {@code awaitClose}: after the handshake, wait for the server's close_notify (else close at once).
     */
    private static long[] run(SSLContext ctx, int port, int n, int k, boolean probe, boolean awaitClose) throws Exception {
        long[] lat = new long[n];
        AtomicInteger next = new AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(k);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < k; t++) {
            fs.add(clients.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < n) {
                    long s = System.nanoTime();
                    try (Socket sock = new Socket("127.0.0.1", port)) {
                        sock.setSoTimeout(30_000);
                        SSLSocket ssl;
                        if (probe) {
                            ssl = org.rpctlsservd.support.FrontEndHarness.startTls(sock, port, ctx, x -> { });
                        } else {
                            ssl = (SSLSocket) ctx.getSocketFactory().createSocket(sock, "localhost", port, true);
                            ssl.startHandshake();
                        }
                        if (awaitClose) {
                            // the daemon's DISCONNECT follows CONNECT: wait for its close_notify, then go
                            ssl.getInputStream().read();
                        }
                    }
                    lat[i] = System.nanoTime() - s;
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        clients.shutdown();
        return lat;
    }

    /** Context switches (voluntary and not) of every thread of process {@code pid}, from /proc (Linux). */
    private static long switches(long pid) {
        long sum = 0;
        try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    for (String line : Files.readAllLines(t.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                            sum += Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
                        }
                    }
                } catch (IOException | NumberFormatException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return sum;
    }

    private static final Map<Long, String> ROLES = new java.util.concurrent.ConcurrentHashMap<>();

    /** CPU time of the daemon's threads, by thread id (rpc-client is the benchmark's own "kernel" side). */
    private static Map<Long, Long> serverCpu() {
        return cpu(name -> name.startsWith("handshake-") || name.startsWith("tls-") || name.startsWith("rpctlssd-")
                || (name.startsWith("rpc-") && !name.startsWith("rpc-client")));
    }
}
