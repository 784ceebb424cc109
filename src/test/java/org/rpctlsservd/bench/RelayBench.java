package org.rpctlsservd.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * tools/bench-relay: the same RPC load relayed over TLS 1.3 by the daemon's front end, by stunnel4 and by
 * HAProxy (TCP mode, TLS termination), in one run, to the same plain backend, with the same JDK clients.
 * The relays run as processes of their own, so their CPU is read from /proc (all threads: JIT and GC
 * count for the daemon).
 * Bulk: 1 MiB RPC replies; small: short calls and replies, many in flight; upload (BENCH_UPLOAD=1,
 * or BENCH_UPLOAD=only for it alone): 1 MiB calls with short replies. Not a test.
 * Arguments: [SECONDS per measurement] [suite ...]; BENCH_DAEMON_JVM adds JVM options to the daemon;
 * the daemon runs on the launcher's $JAVA (tools/bench-relay sets it from BENCH_DAEMON_JAVA), the
 * clients on this JVM.
 */
public final class RelayBench {
    private static final int BULK_REPLY = 1 << 20;
    private static final int SMALL_REPLY = 128;
    private static final byte[] BULK = reply(BULK_REPLY);
    private static final byte[] SMALL = reply(SMALL_REPLY);

    private RelayBench() {
    }

    /**
     * --connector (tools/bench-connector): the client side instead: plain clients through
     * rpc.tlsclntd's connector to the front end, against stunnel4 in client mode to a stunnel4
     * server (no STARTTLS probe: stunnel knows none); the relay measured is the client side's.
     */
    private static boolean connector;

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--connector")) {
            connector = true;
            args = java.util.Arrays.copyOfRange(args, 1, args.length);
        }
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 10;
        List<String> suites = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            suites.add(args[i]);
        }
        if (suites.isEmpty()) {
            suites = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384");
        }
        Path dir = Files.createTempDirectory("bench-relay");
        TestPki.Ca ca = TestPki.ca("Relay CA");
        TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
        TestPki.writeServer(dir.resolve("server"), server);
        Files.writeString(dir.resolve("ca.pem"), TestPki.pem(ca.cert())); // what the client side checks the server against
        SSLContext client = TlsHarness.jdkClient(null, ca, "TLSv1.3");
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        try (ServerSocket backend = new ServerSocket(0, 128, InetAddress.getLoopbackAddress())) {
            pool.submit(() -> serveBackend(backend, pool));
            System.out.printf("%s, java %s (clients), daemon's java %s, %.0f s per measurement after %s%n",
                    Files.readString(Path.of("/proc/cpuinfo")).lines().filter(l -> l.startsWith("model name"))
                            .findFirst().orElse("cpu").replaceFirst(".*: ", ""),
                    System.getProperty("java.version"), daemonJavaVersion(), seconds,
                    WARMUP_SECONDS > 0 ? String.format("a %.0f s warm-up", WARMUP_SECONDS) : "as long a warm-up");
            System.out.printf("%-24s %-6s %-22s %14s %14s %14s   %s%n", "suite", "load", "relay", "rate", "relay CPU",
                    "clients' CPU", connector ? "vs stunnel" : "vs stunnel (and the front end's CPU vs the lower of stunnel's and HAProxy's)");
            // The relays in the order each round starts with; rounds rotate it (each relay goes first, second, ...
            // in turn): on two cores the order of the measurements moves a figure by more than the margins (the
            // later ones measured did worse). With --connector HAProxy is left out: no target of issue 21 is
            // about the client side, and a third relay there would make every connector run half as long again.
            List<Integer> relays = connector ? List.of(STUNNEL, OURS) : List.of(STUNNEL, HAPROXY, OURS);
            int rounds = Integer.parseInt(System.getenv().getOrDefault("BENCH_ROUNDS", "1"));
            for (String suite : suites) {
                java.util.Map<Load, List<Result[]>> results = new java.util.EnumMap<>(Load.class);
                for (Load load : LOADS) {
                    results.put(load, new ArrayList<>());
                }
                for (int round = 0; round < rounds; round++) {
                    java.util.Map<Load, Result[]> now = new java.util.EnumMap<>(Load.class);
                    for (Load load : LOADS) {
                        now.put(load, new Result[3]);
                    }
                    for (int step = 0; step < relays.size(); step++) {
                        int which = relays.get((round + step) % relays.size());
                        try (Relay relay = start(which, dir, suite, backend.getLocalPort())) {
                            for (Load load : LOADS) {
                                now.get(load)[which] = measure(relay, client, suite, pool, load, seconds);
                            }
                        }
                    }
                    if (rounds > 1) {
                        System.out.printf("round %d:%n", round + 1);
                    }
                    for (Load load : LOADS) {
                        if (rounds > 1) {
                            print(suite, load, now.get(load));
                        }
                        results.get(load).add(now.get(load));
                    }
                }
                if (rounds > 1) {
                    System.out.printf("median of %d rounds (the round with the median of the front end's rate ratio; then the median of each ratio over the rounds):%n",
                            rounds);
                }
                for (Load load : LOADS) {
                    print(suite, load, median(results.get(load), load.bulk()));
                }
                if (rounds > 1) {
                    for (Load load : LOADS) {
                        medianRatios(suite, load, results.get(load));
                    }
                }
            }
        }
        pool.shutdownNow();
    }

    /** Indexes of the relays in a round's results; HAPROXY's stays null with --connector. */
    private static final int STUNNEL = 0;
    private static final int HAPROXY = 1;
    private static final int OURS = 2;

    private static Relay start(int which, Path dir, String suite, int backendPort) throws Exception {
        if (connector) {
            return which == OURS ? Relay.connector(dir, suite, backendPort) : Relay.stunnelClient(dir, suite, backendPort);
        }
        return switch (which) {
            case OURS -> Relay.daemon(dir, suite, backendPort);
            case HAPROXY -> Relay.haproxy(dir, suite, backendPort);
            default -> Relay.stunnel(dir, suite, backendPort);
        };
    }

    /** MB/s (bulk, upload) or calls/s (small) of one relay's result. */
    private static double rate(Result r, boolean bulk) {
        return bulk ? r.bytes / r.seconds : r.calls / r.seconds;
    }

    /** CPU seconds per byte (bulk, upload) or per call (small). */
    private static double cost(Result r, boolean bulk) {
        return bulk ? r.cpu / r.bytes : r.cpu / r.calls;
    }

    /** The relay whose CPU per MB (or call) is the lower of stunnel's and HAProxy's: the issue's yardstick for CPU. */
    private static int cheaper(Result[] r, boolean bulk) {
        return r[HAPROXY] != null && cost(r[HAPROXY], bulk) < cost(r[STUNNEL], bulk) ? HAPROXY : STUNNEL;
    }

    private static void print(String suite, Load load, Result[] r) {
        boolean bulk = load.bulk();
        String[] names = connector ? new String[] {"stunnel4 client", null, "rpc.tlsclntd connector"}
                : new String[] {"stunnel4", "HAProxy", "rpc.tlsservd front end"};
        for (int i = 0; i < r.length; i++) {
            if (r[i] == null) {
                continue;
            }
            double rate = rate(r[i], bulk) / (bulk ? 1e6 : 1);
            double cpu = bulk ? r[i].cpu * 1e3 / (r[i].bytes / 1e6) : r[i].cpu * 1e6 / r[i].calls;
            double peers = bulk ? r[i].peers * 1e3 / (r[i].bytes / 1e6) : r[i].peers * 1e6 / r[i].calls;
            String vs = "";
            if (i != STUNNEL) {
                vs = String.format("%.2fx rate, %.2fx CPU", rate(r[i], bulk) / rate(r[STUNNEL], bulk), cost(r[i], bulk) / cost(r[STUNNEL], bulk));
                if (i == OURS && r[HAPROXY] != null) {
                    int low = cheaper(r, bulk);
                    vs += String.format("; %.2fx CPU of the lower (%s)", cost(r[i], bulk) / cost(r[low], bulk), names[low]);
                }
            }
            System.out.printf("%-24s %-6s %-22s %9.1f %-4s %7.1f %-6s %7.1f %-6s %s%n", suite, load.label(), names[i], rate,
                    bulk ? "MB/s" : "/s", cpu, bulk ? "ms/MB" : "us/call", peers, bulk ? "ms/MB" : "us/call", vs);
        }
    }

    /**
     * The median over the rounds of each of the front end's ratios, each on its own (the median round
     * above is the median of the rate ratio only): what issue 21's targets are stated in.
     */
    private static void medianRatios(String suite, Load load, List<Result[]> rounds) {
        boolean bulk = load.bulk();
        double rate = median(rounds.stream().mapToDouble(r -> rate(r[OURS], bulk) / rate(r[STUNNEL], bulk)));
        double cpu = median(rounds.stream().mapToDouble(r -> cost(r[OURS], bulk) / cost(r[STUNNEL], bulk)));
        String line = String.format("%-24s %-6s %s, median ratios: %.2fx rate, %.2fx CPU of stunnel", suite, load.label(), connector ? "connector" : "front end", rate, cpu);
        if (!connector) {
            double low = median(rounds.stream().mapToDouble(r -> cost(r[OURS], bulk) / cost(r[cheaper(r, bulk)], bulk)));
            long haproxyLower = rounds.stream().filter(r -> cheaper(r, bulk) == HAPROXY).count();
            line += String.format("; %.2fx CPU of the lower of stunnel's and HAProxy's (HAProxy's in %d of %d rounds)", low,
                    haproxyLower, rounds.size());
        }
        System.out.println(line);
    }

    private static double median(java.util.stream.DoubleStream values) {
        double[] v = values.sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** {@code cpu}: the relay's; {@code peers}: the clients' and the backend's (this process), in the same interval. */
    record Result(long bytes, long calls, double seconds, double cpu, double peers) {
    }

    /** The round whose front-end-to-stunnel rate ratio is the median. */
    private static Result[] median(List<Result[]> rounds, boolean bulk) {
        List<Result[]> sorted = new ArrayList<>(rounds);
        sorted.sort(java.util.Comparator.comparingDouble(r -> rate(r[OURS], bulk) / rate(r[STUNNEL], bulk)));
        return sorted.get(sorted.size() / 2);
    }

    /** A client's work; a failure before the measurement stopped it is reported to {@code failed}. */
    private interface ClientWork {
        void run() throws Exception;
    }

    private static Void unlessStopped(AtomicBoolean stop, java.util.concurrent.CompletableFuture<Void> failed, ClientWork work)
            throws Exception {
        try {
            work.run();
        } catch (Exception e) {
            if (!stop.get()) {
                failed.completeExceptionally(e);
            }
            throw e;
        }
        return null;
    }

    /** Lets the load run for {@code seconds}; throws at once when a client fails meanwhile. */
    private static void during(java.util.concurrent.CompletableFuture<Void> failed, double seconds) throws Exception {
        try {
            failed.get((long) (seconds * 1000), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException ranItsCourse) {
            return;
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("a client failed during the measurement: " + e.getCause(), e.getCause());
        }
    }

    /** What the clients send and what is counted: replies' bytes (bulk), calls (small), calls' bytes (upload). */
    private enum Load {
        BULK(1, 0, 4, 2), SMALL(2, 0, 8, 16), UPLOAD(3, 1 << 20, 4, 2);

        final int procedure;
        final int arguments;
        /** Connections, and calls in flight on each. */
        final int connections;
        final int depth;

        Load(int procedure, int arguments, int connections, int depth) {
            this.procedure = procedure;
            this.arguments = arguments;
            this.connections = connections;
            this.depth = depth;
        }

        /** Counted in bytes (bulk, upload), else in calls. */
        boolean bulk() {
            return this != SMALL;
        }

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * The loads measured, in this order: bulk and small; BENCH_UPLOAD=1 adds 1 MiB calls answered
     * briefly (an NFS WRITE's direction); BENCH_UPLOAD=only measures those alone.
     */
    private static final List<Load> LOADS = System.getenv("BENCH_UPLOAD") == null ? List.of(Load.BULK, Load.SMALL)
            : "only".equals(System.getenv("BENCH_UPLOAD")) ? List.of(Load.UPLOAD)
            : List.of(Load.BULK, Load.SMALL, Load.UPLOAD);

    /** The warm-up's length (BENCH_WARMUP seconds), else as long as the measurement. */
    private static final double WARMUP_SECONDS = Double.parseDouble(System.getenv().getOrDefault("BENCH_WARMUP", "0"));

    /** K connections with D calls in flight each: a warm-up, then the counted interval. */
    private static Result measure(Relay relay, SSLContext ctx, String suite, ExecutorService pool, Load load, double seconds)
            throws Exception {
        boolean bulk = load.bulk();
        int k = load.connections;
        int depth = load.depth;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong bytes = new AtomicLong();
        AtomicLong calls = new AtomicLong();
        // The warm-up and the measured interval are lengths of time, ended early by a client that fails
        java.util.concurrent.CompletableFuture<Void> failed = new java.util.concurrent.CompletableFuture<>();
        List<Socket> open = new ArrayList<>();
        List<java.util.concurrent.Future<?>> running = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            Socket s = relay.connect(ctx, suite);
            open.add(s);
            Semaphore window = new Semaphore(depth);
            byte[] call = call(load.procedure, load.arguments);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            running.add(pool.submit(() -> unlessStopped(stop, failed, () -> {
                Thread.currentThread().setName("client-write");
                while (!stop.get()) {
                    if (window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        synchronized (out) {
                            out.write(call);
                            out.flush();
                        }
                    }
                }
            })));
            running.add(pool.submit(() -> unlessStopped(stop, failed, () -> {
                Thread.currentThread().setName("client-read");
                byte[] buf = new byte[64 * 1024];
                while (!stop.get()) {
                    long n = readRecord(in, buf);
                    bytes.addAndGet(load == Load.UPLOAD ? load.arguments : n);
                    calls.incrementAndGet();
                    window.release();
                }
            })));
        }
        during(failed, WARMUP_SECONDS > 0 ? WARMUP_SECONDS : seconds); // the warm-up
        long b0 = bytes.get();
        long c0 = calls.get();
        double cpu0 = relay.cpuSeconds();
        double own0 = ownCpuSeconds();
        var kinds0 = threads ? DaemonProcess.cpuSecondsByThreadKind(relay.pid()) : null;
        var mine0 = threads ? DaemonProcess.cpuSecondsByThreadKind(ProcessHandle.current().pid()) : null;
        long t0 = System.nanoTime();
        during(failed, seconds); // the measured interval
        long b1 = bytes.get();
        long c1 = calls.get();
        double cpu1 = relay.cpuSeconds();
        double own1 = ownCpuSeconds();
        double dt = (System.nanoTime() - t0) / 1e9;
        if (threads) {
            // BENCH_THREADS=1: where the CPU went, by kind of thread, per MB (bulk) or per call
            double per = bulk ? (b1 - b0) / 1e6 : (c1 - c0);
            System.out.printf("  %s %s, CPU by thread (%s): relay %s; clients and backend %s%n", suite, load.name().toLowerCase(),
                    bulk ? "ms per MB" : "us per call", byKind(kinds0, DaemonProcess.cpuSecondsByThreadKind(relay.pid()), per, bulk),
                    byKind(mine0, DaemonProcess.cpuSecondsByThreadKind(ProcessHandle.current().pid()), per, bulk));
        }
        stop.set(true);
        for (Socket s : open) {
            s.close();
        }
        for (java.util.concurrent.Future<?> f : running) {
            try {
                f.get(5, TimeUnit.SECONDS);
            } catch (Exception closed) {
                // ended by the close above
            }
        }
        return new Result(b1 - b0, c1 - c0, dt, cpu1 - cpu0, own1 - own0);
    }

    private static final boolean threads = System.getenv("BENCH_THREADS") != null;

    private static String byKind(java.util.Map<String, Double> before, java.util.Map<String, Double> after, double per, boolean bulk) {
        StringBuilder b = new StringBuilder();
        after.forEach((kind, s) -> {
            double v = (s - before.getOrDefault(kind, 0.0)) * (bulk ? 1e3 : 1e6) / per;
            if (v >= 0.05) {
                b.append(b.length() == 0 ? "" : ", ").append(kind).append(String.format(" %.2f", v));
            }
        });
        return b.toString();
    }

    /** This process's CPU so far (the clients' TLS and the backend), in seconds. */
    private static double ownCpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
    }

    /** A record's first bytes kept at the start of the buffer: a call's header up to its procedure. */
    private static final int HEAD = 32;

    /**
     * Reads one record-marked message, returning its length; its first {@link #HEAD} bytes stay at the
     * start of {@code buf}, the rest is read past them (and dropped).
     */
    private static long readRecord(InputStream in, byte[] buf) throws IOException {
        long total = 0;
        while (true) {
            readFully(in, buf, HEAD, 4);
            int mark = ((buf[HEAD] & 0xff) << 24) | ((buf[HEAD + 1] & 0xff) << 16) | ((buf[HEAD + 2] & 0xff) << 8) | (buf[HEAD + 3] & 0xff);
            int len = mark & 0x7fffffff;
            while (len > 0) {
                int off = total < HEAD ? (int) total : HEAD;
                int room = total < HEAD ? HEAD - (int) total : buf.length - HEAD;
                int n = in.read(buf, off, Math.min(len, room));
                if (n < 0) {
                    throw new IOException("closed");
                }
                len -= n;
                total += n;
            }
            if (mark < 0) {
                return total;
            }
        }
    }

    private static void readFully(InputStream in, byte[] buf, int at, int n) throws IOException {
        int off = 0;
        while (off < n) {
            int r = in.read(buf, at + off, n - off);
            if (r < 0) {
                throw new IOException("closed");
            }
            off += r;
        }
    }

    /** A plain backend: procedure 1 answers with a 1 MiB reply, any other (2, and 3 with its 1 MiB of arguments) with a short one. */
    private static Void serveBackend(ServerSocket ss, ExecutorService pool) throws IOException {
        while (!ss.isClosed()) {
            Socket s = ss.accept();
            s.setTcpNoDelay(true);
            pool.submit(() -> {
                Thread.currentThread().setName("backend");
                try (s) {
                    InputStream in = s.getInputStream();
                    OutputStream out = new java.io.BufferedOutputStream(s.getOutputStream(), 64 * 1024);
                    byte[] buf = new byte[64 * 1024];
                    byte[] bulk = BULK.clone();
                    byte[] small = SMALL.clone();
                    while (true) {
                        readRecord(in, buf);
                        // buf now holds the call from its xid on (calls here are one short fragment)
                        byte[] body = buf[23] == 1 ? bulk : small;
                        System.arraycopy(buf, 0, body, 4, 4);
                        out.write(body);
                        if (in.available() == 0) {
                            out.flush();
                        }
                    }
                } catch (IOException gone) {
                    return null;
                }
            });
        }
        return null;
    }

    /** A framed call of procedure {@code proc} with {@code arguments} bytes of arguments (zeros). */
    private static byte[] call(int proc, int arguments) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 40 + arguments);
        b.putInt(0x80000000 | (40 + arguments)).putInt(7).putInt(0).putInt(2).putInt(0x20000099).putInt(1).putInt(proc)
                .putInt(0).putInt(0).putInt(0).putInt(0);
        return b.array();
    }

    /** A framed accepted/SUCCESS reply with {@code size} bytes of body after the header (xid filled per call). */
    private static byte[] reply(int size) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 24 + size);
        b.putInt(0x80000000 | (24 + size)).putInt(0).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0);
        return b.array();
    }

    /**
     * A TLS relay in a process of its own, measured by its pid (the client side's, with --connector:
     * its clients are then plain); {@code port}: where stunnel4 or HAProxy listens for TLS (0 for the others).
     */
    private record Relay(long pid, int port, Dialer dialer, AutoCloseable closer) implements AutoCloseable {
        /** How a client reaches the relay: a TLS socket, or a plain one to a client side. */
        interface Dialer {
            Socket connect(SSLContext ctx, String suite) throws IOException;
        }

        Socket connect(SSLContext ctx, String suite) throws IOException {
            return dialer.connect(ctx, suite);
        }

        double cpuSeconds() throws IOException {
            return processCpu(pid);
        }

        @Override
        public void close() throws Exception {
            closer.close();
        }

        static Relay daemon(Path dir, String suite, int backendPort) throws Exception {
            String jvm = System.getenv().getOrDefault("BENCH_DAEMON_JVM", "").trim(); // for profiling: -XX:StartFlightRecording=...
            DaemonProcess d = frontEnd(Files.createTempDirectory(dir, "daemon"), jvm.isEmpty() ? List.of() : List.of(jvm.split("\\s+")),
                    dir, suite, backendPort);
            return new Relay(d.pid(), 0, (ctx, s) -> FrontEndHarness.startTls(plain(d.frontEndPort), d.frontEndPort, ctx, ssl -> only(ssl, s)),
                    () -> RelayBench.stop(d));
        }

        /**
         * rpc.tlsclntd's connector (measured) in front of the front end (not measured): plain clients, the
         * STARTTLS probe, TLS 1.3 with the server's certificate checked (-l), records relayed both ways.
         */
        static Relay connector(Path dir, String suite, int backendPort) throws Exception {
            Path run = Files.createTempDirectory(dir, "connector");
            DaemonProcess server = frontEnd(run.resolve("server"), List.of(), dir, suite, backendPort);
            int port = freePort();
            DaemonProcess client;
            try {
                client = DaemonProcess.startClient(run.resolve("client"), List.of(), "-d", "-l", dir.resolve("ca.pem").toString(),
                        "-C", suite, "--pidfile", run.resolve("client.pid").toString(), "--rpc-socket", run.resolve("client.sock").toString(),
                        "--no-rpcbind", "--connect", "127.0.0.1:" + port + ",localhost:" + server.frontEndPort);
            } catch (Exception | AssertionError e) {
                RelayBench.stop(server);
                throw e;
            }
            return new Relay(client.pid(), 0, (ctx, s) -> plain(port), () -> {
                RelayBench.stop(client);
                RelayBench.stop(server);
            });
        }

        /** stunnel4 in client mode (measured, checking the server's certificate) in front of a stunnel4 server (not measured). */
        static Relay stunnelClient(Path dir, String suite, int backendPort) throws Exception {
            Relay server = stunnel(dir, suite, backendPort);
            int port = freePort();
            Process p;
            try {
                p = startStunnel(dir, "stunnel-client", suite, port, "127.0.0.1:" + server.port(), List.of(
                        "client = yes", "CAfile = " + dir.resolve("ca.pem"), "verifyChain = yes", "checkHost = localhost"));
            } catch (Exception e) {
                server.close();
                throw e;
            }
            return new Relay(p.pid(), 0, (ctx, s) -> plain(port), () -> {
                RelayBench.stop(p);
                server.close();
            });
        }

        static Relay stunnel(Path dir, String suite, int backendPort) throws Exception {
            int listenPort = freePort();
            Process p = startStunnel(dir, "stunnel", suite, listenPort, "127.0.0.1:" + backendPort, List.of(
                    "cert = " + dir.resolve("server/cert.pem"), "key = " + dir.resolve("server/certkey.pem")));
            return new Relay(p.pid(), listenPort, (ctx, s) -> handshake(ctx, s, plain(listenPort), listenPort), () -> RelayBench.stop(p));
        }

        /** HAProxy in TCP mode terminating TLS, as stunnel4 does: clients straight into TLS, no probe. */
        static Relay haproxy(Path dir, String suite, int backendPort) throws Exception {
            int listenPort = freePort();
            Process p = startHaproxy(dir, suite, listenPort, backendPort);
            return new Relay(p.pid(), listenPort, (ctx, s) -> handshake(ctx, s, plain(listenPort), listenPort), () -> RelayBench.stop(p));
        }
    }

    /** The daemon's front end before the backend, TLS 1.3 with {@code suite} alone, in {@code run}. */
    private static DaemonProcess frontEnd(Path run, List<String> jvm, Path dir, String suite, int backendPort) throws Exception {
        return DaemonProcess.start(run, jvm, List.of(), "-d", "-D", dir.resolve("server").toString(), "-C", suite, "--pidfile",
                run.resolve("pid").toString(), "--rpc-socket", run.resolve("sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:" + backendPort);
    }

    /** SIGTERM: an orderly stop, so that a flight recording is written. */
    private static void stop(DaemonProcess d) throws InterruptedException {
        d.terminate(15);
        d.close();
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** stunnel4 with one service from 127.0.0.1:{@code port} to {@code connect}, TLS 1.3 with {@code suite} alone; its log in {@code dir/name.log}. */
    private static Process startStunnel(Path dir, String name, String suite, int port, String connect, List<String> more)
            throws Exception {
        Path conf = dir.resolve(name + ".conf");
        Path log = dir.resolve(name + ".log");
        List<String> lines = new ArrayList<>(List.of("foreground = yes", "pid =", "debug = 3", "[relay]",
                "accept = 127.0.0.1:" + port, "connect = " + connect));
        lines.addAll(more);
        lines.addAll(List.of("sslVersionMin = TLSv1.3", "ciphersuites = " + suite, "socket = l:TCP_NODELAY=1",
                "socket = r:TCP_NODELAY=1", ""));
        Files.writeString(conf, String.join("\n", lines), StandardCharsets.US_ASCII);
        Process p = new ProcessBuilder("stunnel4", conf.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Await.until(() -> listening(port) || !p.isAlive(), "stunnel4 to listen", 10);
        } catch (AssertionError e) {
            p.destroy();
            throw new IOException("stunnel4 did not start: " + Files.readString(log));
        }
        if (!p.isAlive()) {
            throw new IOException("stunnel4 did not start: " + Files.readString(log));
        }
        return p;
    }

    /** Debian's HAProxy (tools/bench-relay installs it when missing); on the PATH where it is elsewhere. */
    private static final String HAPROXY_COMMAND = Files.isExecutable(Path.of("/usr/sbin/haproxy")) ? "/usr/sbin/haproxy" : "haproxy";

    /**
     * One HAProxy process in the foreground (-db), TCP mode, from 127.0.0.1:{@code port} with TLS 1.3 and
     * {@code suite} alone to the plain backend; its configuration and output in {@code dir/haproxy.*}.
     */
    private static Process startHaproxy(Path dir, String suite, int port, int backendPort) throws Exception {
        Path pem = dir.resolve("haproxy.pem"); // HAProxy's crt: the chain and the key in one file
        Files.writeString(pem, Files.readString(dir.resolve("server/cert.pem")) + Files.readString(dir.resolve("server/certkey.pem")));
        Path conf = dir.resolve("haproxy.cfg");
        Path log = dir.resolve("haproxy.log");
        Files.writeString(conf, String.join("\n",
                "global",
                // Two threads, HAProxy's own default on this 2-core machine: each relay may use both cores, as
                // stunnel4 does (a thread per connection) and the front end (--io-threads: a loop per CPU); one
                // thread would cap HAProxy at one core where the others have two.
                "    nbthread 2",
                "defaults",
                "    mode tcp",
                "    timeout connect 5s",
                "    timeout client 1h",
                "    timeout server 1h",
                "frontend relay",
                "    bind 127.0.0.1:" + port + " ssl crt " + pem + " alpn sunrpc ssl-min-ver TLSv1.3 ciphersuites " + suite,
                "    default_backend plain",
                "backend plain",
                "    server s1 127.0.0.1:" + backendPort,
                ""), StandardCharsets.US_ASCII);
        Process p = new ProcessBuilder(HAPROXY_COMMAND, "-db", "-f", conf.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            Await.until(() -> listening(port) || !p.isAlive(), "haproxy to listen", 10);
        } catch (AssertionError e) {
            p.destroy();
            throw new IOException("haproxy did not start: " + Files.readString(log));
        }
        if (!p.isAlive()) {
            throw new IOException("haproxy did not start: " + Files.readString(log));
        }
        return p;
    }

    /**
     * The version of the java that runs the daemon: the launcher's $JAVA (tools/bench-relay sets it from
     * BENCH_DAEMON_JAVA), as {@code java -version} gives it.
     */
    private static String daemonJavaVersion() throws Exception {
        String launcherJava = System.getenv().getOrDefault("JAVA", "").isBlank() ? "java" : System.getenv("JAVA"); // as the launcher: ${JAVA:-java}
        String wanted = System.getenv("BENCH_DAEMON_JAVA");
        if (wanted != null && !wanted.equals(launcherJava)) {
            throw new IllegalStateException("BENCH_DAEMON_JAVA=" + wanted + " but the daemon's launcher would run JAVA=" + launcherJava
                    + ": run through tools/bench-relay, which passes it on");
        }
        Process p = new ProcessBuilder(launcherJava, "-version").redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(launcherJava + " -version failed: " + out);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("version \"([^\"]+)\"").matcher(out);
        return (m.find() ? m.group(1) : out.lines().findFirst().orElse("?")) + (launcherJava.equals("java") ? "" : " (" + launcherJava + ")");
    }

    /** A process's CPU so far (user and system), in seconds, from /proc. */
    private static double processCpu(long pid) throws IOException {
        String[] f = Files.readString(Path.of("/proc/" + pid + "/stat")).replaceFirst(".*\\) ", "").split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }

    private static int freePort() throws IOException {
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return free.getLocalPort();
        }
    }

    /** A plain TCP connection to 127.0.0.1:{@code port}, without Nagle. */
    private static Socket plain(int port) throws IOException {
        Socket raw = new Socket();
        raw.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        raw.setTcpNoDelay(true);
        return raw;
    }

    private static SSLSocket handshake(SSLContext ctx, String suite, Socket raw, int port) throws IOException {
        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(raw, "localhost", port, true);
        only(ssl, suite);
        ssl.startHandshake();
        return ssl;
    }

    private static boolean listening(int port) {
        try (Socket probe = new Socket()) {
            probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    /** TLS 1.3 with {@code suite} alone, for both relays alike. */
    private static void only(SSLSocket ssl, String suite) {
        ssl.setEnabledProtocols(new String[] {"TLSv1.3"});
        ssl.setEnabledCipherSuites(new String[] {suite});
    }
}
