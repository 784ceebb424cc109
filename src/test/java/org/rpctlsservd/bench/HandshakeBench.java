package org.rpctlsservd.bench;

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
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        boolean rsa = args.length > 2 && args[2].equals("rsa");
        List<String> extra = new ArrayList<>(Arrays.asList(args).subList(Math.min(3, args.length), args.length));
        boolean mutual = extra.remove("--mutual");
        boolean compare = extra.remove("--compare");
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
     * blocking engine, nothing around it) and through the front end (probe, park, CONNECT upcall over
     * the Unix-domain socket, handshake on the workers, DISCONNECT when the client goes), one after
     * the other in one run; the daemon's CPU per handshake as a ratio of the bare engine's.
     */
    private static void compare(SSLContext ctx, Path dir, List<String> opts, int n, int k, boolean rsa) throws Exception {
        int rounds = Integer.getInteger("bench.rounds", 3);
        List<String> fe = new ArrayList<>(opts);
        try (org.rpctlsservd.handshake.BareEngine b = new org.rpctlsservd.handshake.BareEngine(
                org.rpctlsservd.certs.ServerCredentials.load(dir.resolve("server").toString()), k);
                java.net.ServerSocket backend = new java.net.ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            fe.addAll(List.of("--listen", "127.0.0.1:0", "--backend", "127.0.0.1:" + backend.getLocalPort()));
            Config c = new Cli("rpc.tlsservd", Runtime.getRuntime().availableProcessors(), "bench.example.org", h -> null)
                    .parse(fe.toArray(new String[0]));
            try (Daemon d = Daemon.start(c)) {
                int port = d.frontEnd().addresses().get(0).getPort();
                int warm = Math.max(1000, n); // the front end has more code than the bare engine for the JIT to finish: cold start is --cold
                // both warm, so the JIT has compiled Bouncy Castle's code (which both share) before anything counts
                run(ctx, b.port(), warm, k, false, false);
                run(ctx, port, warm, k, true, false);
                int disconnects = warm;
                awaitDisconnects(d, disconnects);
                List<Double> bares = new ArrayList<>();
                List<Double> mine = new ArrayList<>();
                long bareSwitches = 0;
                long frontSwitches = 0;
                Map<String, Long> byRole = new java.util.TreeMap<>();
                for (int round = 1; round <= rounds; round++) {
                    Map<Long, Long> b0 = cpu(name -> name.startsWith("bare-"));
                    long s0 = switches(name -> name.startsWith("bare-"));
                    long t0 = System.nanoTime();
                    run(ctx, b.port(), n, k, false, false);
                    double bareRate = n / ((System.nanoTime() - t0) / 1e9);
                    double bare = used(b0, cpu(name -> name.startsWith("bare-"))) / 1e3 / n;
                    bareSwitches += switches(name -> name.startsWith("bare-")) - s0;
                    Map<Long, Long> c0 = cpu(HandshakeBench::daemonThread);
                    s0 = switches(HandshakeBench::daemonThread);
                    t0 = System.nanoTime();
                    run(ctx, port, n, k, true, false);
                    disconnects += n;
                    awaitDisconnects(d, disconnects);
                    double rate = n / ((System.nanoTime() - t0) / 1e9);
                    Map<Long, Long> c1 = cpu(HandshakeBench::daemonThread);
                    frontSwitches += switches(HandshakeBench::daemonThread) - s0;
                    double front = used(c0, c1) / 1e3 / n;
                    for (Map.Entry<Long, Long> e : c1.entrySet()) {
                        byRole.merge(ROLES.getOrDefault(e.getKey(), "?"), e.getValue() - c0.getOrDefault(e.getKey(), 0L), Long::sum);
                    }
                    bares.add(bare);
                    mine.add(front);
                    System.out.printf("round %d: bare engine %.0f/s %.0f us, front end %.0f/s %.0f us per handshake: %.2fx%n", round,
                            bareRate, bare, rate, front, front / bare);
                }
                List<Double> ratios = new ArrayList<>();
                for (int i = 0; i < rounds; i++) {
                    ratios.add(mine.get(i) / bares.get(i)); // each round's pair ran back to back: drift between rounds cancels
                }
                java.util.Collections.sort(ratios);
                java.util.Collections.sort(bares);
                java.util.Collections.sort(mine);
                double mb = bares.get(rounds / 2);
                double mf = mine.get(rounds / 2);
                System.out.printf("median: bare engine %.0f us, front end %.0f us per handshake: %.2fx the bare engine"
                        + " (median of the rounds' own ratios: %.2fx)%n", mb, mf, mf / mb, ratios.get(rounds / 2));
                StringBuilder roles = new StringBuilder("front end cpu/handshake by thread (all rounds):");
                int total = n * rounds;
                byRole.forEach((role, used) -> {
                    if (used / 1e3 / total >= 1) {
                        roles.append(String.format(" %s=%.0fus", role, used / 1e3 / total));
                    }
                });
                System.out.println(roles);
                System.out.printf("context switches per handshake (all rounds): bare engine %.1f, front end %.1f%n",
                        bareSwitches / (double) (n * rounds), frontSwitches / (double) (n * rounds));
            }
        }
        System.out.printf("key=%s handshakes=%d x %d rounds concurrency=%d java=%s%n", rsa ? "rsa2048" : "ecdsa-p256", n, rounds, k,
                System.getProperty("java.version"));
    }

    private static boolean daemonThread(String name) {
        return name.startsWith("frontend-") || name.startsWith("rpc-") || name.startsWith("handshake-") || name.startsWith("tls-")
                || name.startsWith("rpctlssd-");
    }

    private static void awaitDisconnects(Daemon d, int n) {
        org.rpctlsservd.support.Await.until(() -> d.frontEnd().stats().disconnects() >= n, n + " DISCONNECT upcalls", 60);
    }

    private static long used(Map<Long, Long> before, Map<Long, Long> after) {
        long sum = 0;
        for (Map.Entry<Long, Long> e : after.entrySet()) {
            sum += e.getValue() - before.getOrDefault(e.getKey(), 0L);
        }
        return sum;
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

    /** Context switches (voluntary and not) of the threads whose names {@code which} accepts, from /proc (Linux). */
    private static long switches(java.util.function.Predicate<String> which) {
        long sum = 0;
        try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
            for (java.nio.file.Path t : (Iterable<java.nio.file.Path>) tasks::iterator) {
                try {
                    // /proc names threads by their first 15 characters: the prefixes tested are shorter
                    if (!which.test(java.nio.file.Files.readString(t.resolve("comm")).strip())) {
                        continue;
                    }
                    for (String line : java.nio.file.Files.readAllLines(t.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                            sum += Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
                        }
                    }
                } catch (java.io.IOException | NumberFormatException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (java.io.IOException e) {
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
