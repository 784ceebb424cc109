package org.rpctlsservd.bench;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.Ganesha;
import org.rpctlsservd.support.Libnfs;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.TestPki;

/**
 * tools/bench-nfs: libnfs's nfs-cp writing a file to nfs-ganesha with NFSv3 and nfs-cat reading it back, over
 * three paths in one run: (a) straight to ganesha, (b) the whole RFC 9289 path: rpc.tlsclntd's
 * connector (the client part libnfs lacks: STARTTLS probe, TLS 1.3, the server's certificate
 * checked), the daemon's front end (one daemon relaying NFS and MOUNT, as NfsGatewayIT runs it) and
 * on to ganesha, (c) the same with stunnel4 on both sides, a client checking the certificate and a
 * server (plain TLS 1.3, no probe: stunnel knows none). Rounds alternate the order of the paths.
 * Prints MB/s each way, the ratio to the direct path, and CPU per MB of each process: each path's
 * server side and client side, ganesha (found in its namespace with {@code ip netns pids}), and
 * libnfs (nfs-cp, nfs-cat: this JVM's reaped children). Ganesha's export and the files are on a tmpfs (/dev/shm),
 * so the disk is not what is measured. Before the rounds each path writes and reads the file once,
 * checking the SHA-256 of what ganesha stored and of what was read; then BENCH_WARMUP (default 12) more
 * untimed copies through the daemons warm their JIT, so the rounds measure a daemon's steady state.
 * Not a test. Arguments: [MiB per copy, default 256] [rounds, default 3]; BENCH_DAEMON_JVM adds JVM
 * options to the daemon; BENCH_THREADS=1 also prints the daemon's CPU by kind of thread.
 */
public final class NfsBench {
    private static final int COPY_TIMEOUT_SECONDS = 600;

    private NfsBench() {
    }

    enum Way {
        DIRECT("direct to ganesha"), FRONT_END("connector + front end"), STUNNEL("stunnel4 client + server");

        final String label;

        Way(String label) {
            this.label = label;
        }
    }

    /**
     * One copy: its bytes, wall time, and CPU seconds of each process in that time: the TLS server
     * side (the front end, stunnel4's server), the client side (rpc.tlsclntd's connector, stunnel4 in
     * client mode), ganesha and libnfs.
     */
    record Copy(long bytes, double seconds, double serverSide, double clientSide, double ganesha, double client) {
    }

    /** Where the things started are, and how to stop them all once, from the finally or from a shutdown hook. */
    private static final class Started {
        final List<AutoCloseable> closers = new ArrayList<>();
        final AtomicBoolean closed = new AtomicBoolean();

        <T extends AutoCloseable> T add(T c) {
            synchronized (closers) {
                closers.add(c);
            }
            return c;
        }

        void closeAll() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            List<AutoCloseable> all;
            synchronized (closers) {
                all = new ArrayList<>(closers);
            }
            for (int i = all.size() - 1; i >= 0; i--) {
                try {
                    all.get(i).close();
                } catch (Exception e) {
                    System.err.println("bench-nfs: stopping " + all.get(i) + ": " + e);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int mib;
        int rounds;
        try {
            mib = args.length > 0 ? Integer.parseInt(args[0]) : 256;
            rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
            if (mib < 1 || rounds < 1 || args.length > 2) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            System.err.println("usage: tools/bench-nfs [MiB per copy, default 256] [rounds, default 3]");
            System.exit(2);
            return;
        }
        Started started = new Started();
        Thread hook = new Thread(started::closeAll, "bench-nfs-cleanup"); // Ctrl-C too stops ganesha, the daemon, stunnel
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            run(mib, rounds, started);
        } finally {
            started.closeAll();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // a signal ended the run: the hook stopped everything already
            }
        }
    }

    private static void run(int mib, int rounds, Started started) throws Exception {
        Path dir = Files.createTempDirectory("bench-nfs");
        // Bulky files on a tmpfs: the source, the export, the checked read; removed at the end
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "bench-nfs");
        started.add(() -> deleteTree(shm));
        started.add(() -> deleteTree(dir));

        TestPki.Ca ca = TestPki.ca("NFS bench CA");
        // the client sides check the server's certificate against the name they connect to, an address here
        TestPki.writeServer(dir.resolve("server"), PeerPki.server(ca, "server", "localhost", "127.0.0.1", "127.0.0.2"));
        Files.writeString(dir.resolve("ca.pem"), TestPki.pem(ca.cert()));

        Path source = shm.resolve("source");
        writeRandom(source, mib);
        String sum = Libnfs.sha256(source);
        long size = Files.size(source);

        Ganesha.Export export = new Ganesha.Export(1, shm.resolve("export"), "/export", false);
        Ganesha ganesha = started.add(Ganesha.start(dir.resolve("ganesha"), export));
        long ganeshaPid = ganeshaPid(ganesha);
        String exportPath = export.realPath();

        // (b) one daemon, NFS on 127.0.0.1 and MOUNT on 127.0.0.2, as NfsGatewayIT runs it
        Path run = dir.resolve("daemon");
        String jvm = System.getenv().getOrDefault("BENCH_DAEMON_JVM", "").trim();
        DaemonProcess daemon = started.add(DaemonProcess.start(run, jvm.isEmpty() ? List.of() : List.of(jvm.split("\\s+")), List.of(),
                "-d", "-D", dir.resolve("server").toString(), "--pidfile", run.resolve("pid").toString(), "--rpc-socket",
                run.resolve("sock").toString(), "--no-rpcbind",
                "--relay", "127.0.0.1:0," + ganesha.address + ":" + Ganesha.NFS_PORT + ",nfs",
                "--relay", "127.0.0.2:0," + ganesha.address + ":" + Ganesha.MOUNT_PORT + ",mount"));
        // libnfs reaches it through rpc.tlsclntd's connector: STARTTLS probe, TLS 1.3, the certificate checked
        int cnNfs = freePort();
        int cnMount = freePort();
        Path crun = dir.resolve("connector");
        DaemonProcess connector = started.add(DaemonProcess.startClient(crun, jvm.isEmpty() ? List.of() : List.of(jvm.split("\\s+")),
                "-d", "-l", dir.resolve("ca.pem").toString(), "--pidfile", crun.resolve("pid").toString(), "--rpc-socket",
                crun.resolve("sock").toString(), "--no-rpcbind",
                "--connect", "127.0.0.1:" + cnNfs + ",127.0.0.1:" + listening(daemon, "127.0.0.1"),
                "--connect", "127.0.0.1:" + cnMount + ",127.0.0.2:" + listening(daemon, "127.0.0.2")));

        // (c) stunnel4, the same two services: a server before ganesha, a client (checking the certificate) before it
        Process stunnel = startStunnel(dir, "stunnel", ganesha.address, started, List.of(
                "cert = " + dir.resolve("server/cert.pem"), "key = " + dir.resolve("server/certkey.pem")));
        int stServerNfs = stunnelNfs;
        int stServerMount = stunnelMount;
        Process stunnelClient = startStunnel(dir, "stunnel-client", "127.0.0.1", started, List.of("client = yes",
                "CAfile = " + dir.resolve("ca.pem"), "verifyChain = yes", "checkIP = 127.0.0.1"), stServerNfs, stServerMount);

        Map<Way, String[]> url = new EnumMap<>(Way.class); // the URL prefix and suffix around a file name
        url.put(Way.DIRECT, new String[] {"nfs://" + ganesha.address + exportPath + "/",
            "?nfsport=" + Ganesha.NFS_PORT + "&mountport=" + Ganesha.MOUNT_PORT});
        url.put(Way.FRONT_END, new String[] {"nfs://127.0.0.1" + exportPath + "/", "?nfsport=" + cnNfs + "&mountport=" + cnMount});
        url.put(Way.STUNNEL, new String[] {"nfs://127.0.0.1" + exportPath + "/", "?nfsport=" + stunnelNfs + "&mountport=" + stunnelMount});
        Meter meter = new Meter(dir, daemon, connector, stunnel, stunnelClient, ganeshaPid);

        System.out.printf("%s, %d cores, java %s; %d MiB per copy, %d rounds; NFSv3, libnfs nfs-cp writes, nfs-cat reads; ganesha's export on tmpfs%n",
                Files.readString(Path.of("/proc/cpuinfo")).lines().filter(l -> l.startsWith("model name")).findFirst().orElse("cpu")
                        .replaceFirst(".*: ", ""),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), mib, rounds);

        // Once per path, not timed: write, check what ganesha stored, read back into a file, check it
        for (Way w : Way.values()) {
            String name = "check-" + w.name().toLowerCase() + "-" + System.nanoTime(); // never a name ganesha saw before
            String nfs = url.get(w)[0] + name + url.get(w)[1];
            copy(source.toString(), nfs, size, meter, w);
            check(sum, export.path().resolve(name), "what ganesha stored, written " + w.label);
            Path back = shm.resolve("back-" + w.name().toLowerCase());
            copy(nfs, back.toString(), size, meter, w);
            check(sum, back, "what was read " + w.label);
            Files.delete(back);
            Files.delete(export.path().resolve(name)); // a new name each time, so ganesha never meets a deleted name again
        }
        System.out.println("SHA-256 of what ganesha stored and of what was read back checked on each path; TLS 1.3, each side's default suite: "
                + suites(connector.log()) + " through the connector");
        // The daemons' JIT compiles for some seconds of traffic: more untimed copies through them first
        // (BENCH_WARMUP, default 12: after 4, C2 still took 0.15-0.23 ms per MB of the rounds; after 12, 0.08), so that
        // the rounds measure the steady state a long-running daemon is in
        int warmups = Integer.parseInt(System.getenv().getOrDefault("BENCH_WARMUP", "12"));
        for (int i = 0; i < warmups; i++) {
            String name = "warm-" + i + "-" + System.nanoTime();
            String nfs = url.get(Way.FRONT_END)[0] + name + url.get(Way.FRONT_END)[1];
            copy(source.toString(), nfs, size, meter, Way.FRONT_END);
            copy(nfs, "/dev/null", size, meter, Way.FRONT_END);
            Files.delete(export.path().resolve(name));
        }

        Map<Way, List<Copy>> writes = new EnumMap<>(Way.class);
        Map<Way, List<Copy>> reads = new EnumMap<>(Way.class);
        for (Way w : Way.values()) {
            writes.put(w, new ArrayList<>());
            reads.put(w, new ArrayList<>());
        }
        Map<String, Double> threads0 = DaemonProcess.cpuSecondsByThreadKind(daemon.pid());
        for (int round = 0; round < rounds; round++) {
            // Alternating the order: on two cores the paths measured later ran into more of what the earlier left behind
            List<Way> order = new ArrayList<>(List.of(Way.values()));
            if (round % 2 == 1) {
                java.util.Collections.reverse(order);
            }
            StringBuilder line = new StringBuilder("round " + (round + 1) + ":");
            List<Path> stored = new ArrayList<>();
            for (Way w : order) {
                String name = "r" + (round + 1) + "-" + w.name().toLowerCase() + "-" + System.nanoTime();
                String nfs = url.get(w)[0] + name + url.get(w)[1];
                Copy wr = copy(source.toString(), nfs, size, meter, w);
                Path file = export.path().resolve(name);
                stored.add(file);
                if (Files.size(file) != size) {
                    throw new IOException("ganesha stored " + Files.size(file) + " bytes of " + size + ", written " + w.label);
                }
                Copy rd = copy(nfs, "/dev/null", size, meter, w);
                writes.get(w).add(wr);
                reads.get(w).add(rd);
                line.append(String.format("  %s %.0f/%.0f", shortName(w), mbps(wr), mbps(rd)));
            }
            System.out.println(line.append(" MB/s write/read"));
            for (Path f : stored) {
                Files.delete(f);
            }
        }
        summary(writes, reads, rounds);
        if (System.getenv("BENCH_THREADS") != null) {
            // where the daemon's CPU went over the rounds (both ways), by kind of thread
            Map<String, Double> threads1 = DaemonProcess.cpuSecondsByThreadKind(daemon.pid());
            double mb = 2.0 * rounds * size / 1e6;
            StringBuilder b = new StringBuilder("daemon CPU by thread, ms per MB (both ways):");
            threads1.forEach((kind, sec) -> {
                double v = (sec - threads0.getOrDefault(kind, 0.0)) * 1e3 / mb;
                if (v >= 0.05) {
                    b.append(String.format(" %s %.2f;", kind, v));
                }
            });
            System.out.println(b);
        }
    }

    private static String shortName(Way w) {
        return switch (w) {
            case DIRECT -> "direct";
            case FRONT_END -> "connector+front end";
            case STUNNEL -> "stunnel client+server";
        };
    }

    private static void summary(Map<Way, List<Copy>> writes, Map<Way, List<Copy>> reads, int rounds) {
        System.out.printf("median of %d rounds; CPU in ms per MB over all rounds (write/read); libnfs: nfs-cp and nfs-cat%n", rounds);
        System.out.printf("%-26s %10s %10s %11s | %11s %11s %11s %11s%n", "path", "write MB/s", "read MB/s", "vs direct",
                "server side", "client side", "ganesha", "libnfs");
        double directW = median(writes.get(Way.DIRECT));
        double directR = median(reads.get(Way.DIRECT));
        for (Way w : Way.values()) {
            List<Copy> ws = writes.get(w);
            List<Copy> rs = reads.get(w);
            System.out.printf("%-26s %10.1f %10.1f %5.2f/%-5.2f | %11s %11s %11s %11s%n", w.label, median(ws), median(rs),
                    median(ws) / directW, median(rs) / directR,
                    w == Way.DIRECT ? "-" : perMb(ws, Copy::serverSide) + "/" + perMb(rs, Copy::serverSide),
                    w == Way.DIRECT ? "-" : perMb(ws, Copy::clientSide) + "/" + perMb(rs, Copy::clientSide),
                    perMb(ws, Copy::ganesha) + "/" + perMb(rs, Copy::ganesha),
                    perMb(ws, Copy::client) + "/" + perMb(rs, Copy::client));
        }
        System.out.printf("TLS path vs stunnel4: rate %.2fx write, %.2fx read; CPU per MB: front end vs stunnel server %.2fx write, "
                + "%.2fx read; connector vs stunnel client %.2fx write, %.2fx read%n",
                median(writes.get(Way.FRONT_END)) / median(writes.get(Way.STUNNEL)),
                median(reads.get(Way.FRONT_END)) / median(reads.get(Way.STUNNEL)),
                cpuPerMb(writes.get(Way.FRONT_END), Copy::serverSide) / cpuPerMb(writes.get(Way.STUNNEL), Copy::serverSide),
                cpuPerMb(reads.get(Way.FRONT_END), Copy::serverSide) / cpuPerMb(reads.get(Way.STUNNEL), Copy::serverSide),
                cpuPerMb(writes.get(Way.FRONT_END), Copy::clientSide) / cpuPerMb(writes.get(Way.STUNNEL), Copy::clientSide),
                cpuPerMb(reads.get(Way.FRONT_END), Copy::clientSide) / cpuPerMb(reads.get(Way.STUNNEL), Copy::clientSide));
    }

    /** The suites the connector's handshakes agreed, from its audit lines. */
    private static java.util.Set<String> suites(String log) {
        java.util.Set<String> found = new java.util.TreeSet<>();
        Matcher m = Pattern.compile("handshake server=\\S+ .*?suite=(\\S+)").matcher(log);
        while (m.find()) {
            found.add(m.group(1));
        }
        return found;
    }

    private static double mbps(Copy c) {
        return c.bytes() / c.seconds() / 1e6;
    }

    private static double median(List<Copy> cs) {
        List<Double> r = cs.stream().map(NfsBench::mbps).sorted(Comparator.naturalOrder()).toList();
        return r.size() % 2 == 1 ? r.get(r.size() / 2) : (r.get(r.size() / 2 - 1) + r.get(r.size() / 2)) / 2;
    }

    private static double cpuPerMb(List<Copy> cs, java.util.function.ToDoubleFunction<Copy> cpu) {
        double seconds = cs.stream().mapToDouble(cpu).sum();
        double mb = cs.stream().mapToLong(Copy::bytes).sum() / 1e6;
        return seconds * 1e3 / mb;
    }

    private static String perMb(List<Copy> cs, java.util.function.ToDoubleFunction<Copy> cpu) {
        return String.format("%.2f", cpuPerMb(cs, cpu));
    }

    /** CPU seconds so far of everything a path runs through. */
    private static final class Meter {
        final DaemonProcess daemon;
        final DaemonProcess connector;
        final Process stunnel;
        final Process stunnelClient;
        final long ganesha;
        final Path dir;

        Meter(Path dir, DaemonProcess daemon, DaemonProcess connector, Process stunnel, Process stunnelClient, long ganesha) {
            this.dir = dir;
            this.daemon = daemon;
            this.connector = connector;
            this.stunnel = stunnel;
            this.stunnelClient = stunnelClient;
            this.ganesha = ganesha;
        }

        /** Which of the processes the paths run through is gone, if any. */
        String dead() {
            return !daemon.process.isAlive() ? "the daemon" : !connector.process.isAlive() ? "the connector"
                    : !stunnel.isAlive() ? "stunnel4" : !stunnelClient.isAlive() ? "stunnel4 (client)"
                    : ProcessHandle.of(ganesha).map(ProcessHandle::isAlive).orElse(false) ? null : "ganesha";
        }

        /** Server side, client side, ganesha, libnfs: the sides of {@code w}'s path. */
        double[] now(Way w) throws IOException {
            boolean ours = w == Way.FRONT_END;
            return new double[] {ours ? daemon.cpuSeconds() : cpu(stunnel.pid()),
                ours ? connector.cpuSeconds() : cpu(stunnelClient.pid()), cpu(ganesha), childrenCpu()};
        }
    }

    /** One nfs-cp, timed, with each process's CPU in that time. */
    private static Copy copy(String from, String to, long bytes, Meter meter, Way w) throws Exception {
        Path said = meter.dir.resolve("nfs-cp.out"); // nfs-cp says little: an error at most
        double[] before = meter.now(w);
        long t0 = System.nanoTime();
        // Writes: nfs-cp from a local file. Reads: nfs-cat into a file or /dev/null (nfs-cp cannot write to /dev/null: it creates exclusively)
        boolean write = !from.startsWith("nfs:");
        String[] cmd = write ? new String[] {"nfs-cp", from, to} : new String[] {"nfs-cat", from};
        String what = String.join(" ", cmd) + (write ? "" : " >" + to);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = (write ? pb.redirectErrorStream(true).redirectOutput(said.toFile())
                : pb.redirectError(said.toFile()).redirectOutput(new File(to))).start();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(COPY_TIMEOUT_SECONDS);
        // libnfs reconnects for ever when its server goes away: a relay or ganesha that died ends the copy here
        while (!p.waitFor(200, TimeUnit.MILLISECONDS)) {
            String dead = meter.dead();
            if (dead != null || System.nanoTime() > deadline) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException(what + (dead != null ? ": " + dead + " ended meanwhile" : " did not end within "
                        + COPY_TIMEOUT_SECONDS + " s") + " (" + w.label + "); it said: " + Files.readString(said).strip());
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (p.exitValue() != 0) {
            throw new IOException(what + " failed (" + p.exitValue() + ", " + w.label + "): "
                    + Files.readString(said).strip());
        }
        double[] after = meter.now(w);
        return new Copy(bytes, seconds, after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3]);
    }

    private static void check(String sum, Path p, String what) throws IOException {
        String got = Libnfs.sha256(p);
        if (!got.equals(sum)) {
            throw new IOException("SHA-256 of " + what + " is " + got + ", not " + sum + " (" + Files.size(p) + " bytes)");
        }
    }

    private static void writeRandom(Path p, int mib) throws IOException {
        Random random = new Random(9289);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(p)) {
            for (int i = 0; i < mib; i++) {
                random.nextBytes(block);
                out.write(block);
            }
        }
    }

    /** ganesha.nfsd among the processes of its namespace (its private rpcbind is the other). */
    private static long ganeshaPid(Ganesha g) throws Exception {
        Commands.Result r = Commands.run(10, "ip", "netns", "pids", g.name);
        for (String pid : r.output().strip().split("\\s+")) {
            if (pid.matches("\\d+") && Files.readString(Path.of("/proc/" + pid + "/comm")).strip().equals("ganesha.nfsd")) {
                return Long.parseLong(pid);
            }
        }
        throw new IOException("no ganesha.nfsd in namespace " + g.name + ": " + r.output());
    }

    /** utime + stime of a process from /proc, in seconds. */
    private static double cpu(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // clock ticks, USER_HZ 100
    }

    /** cutime + cstime of this JVM: the CPU of the children it reaped, nfs-cp here. */
    private static double childrenCpu() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0;
    }

    private static int listening(DaemonProcess d, String address) {
        Matcher m = Pattern.compile("front end: RPC-over-TLS on " + Pattern.quote(address) + ":(\\d+)").matcher(d.log());
        if (!m.find()) {
            throw new IllegalStateException("no front end on " + address + ": " + d.log());
        }
        return Integer.parseInt(m.group(1));
    }

    private static int stunnelNfs;
    private static int stunnelMount;

    /**
     * stunnel4 with two services, NFS and MOUNT, each to {@code host}'s port ({@code ports}: the given
     * ones, else ganesha's); TLS 1.3 only, default suites; {@code more}: its TLS side's lines. The ports
     * it listens on are left in {@link #stunnelNfs} and {@link #stunnelMount}.
     */
    private static Process startStunnel(Path dir, String name, String host, Started started, List<String> more, int... ports)
            throws Exception {
        stunnelNfs = freePort();
        stunnelMount = freePort();
        Path conf = dir.resolve(name + ".conf");
        Path log = dir.resolve(name + ".log");
        List<String> lines = new ArrayList<>(List.of("foreground = yes", "pid =", "debug = 3", "sslVersionMin = TLSv1.3"));
        lines.addAll(more);
        lines.addAll(List.of("socket = l:TCP_NODELAY=1", "socket = r:TCP_NODELAY=1",
                "[nfs]", "accept = 127.0.0.1:" + stunnelNfs, "connect = " + host + ":" + (ports.length > 0 ? ports[0] : Ganesha.NFS_PORT),
                "[mount]", "accept = 127.0.0.1:" + stunnelMount, "connect = " + host + ":" + (ports.length > 0 ? ports[1] : Ganesha.MOUNT_PORT),
                ""));
        Files.writeString(conf, String.join("\n", lines), StandardCharsets.US_ASCII);
        Process p = new ProcessBuilder("stunnel4", conf.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(() -> {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        });
        int nfs = stunnelNfs;
        int mount = stunnelMount;
        try {
            Await.until(() -> !p.isAlive() || listening(nfs) && listening(mount), "stunnel4 to listen", 10);
        } catch (AssertionError e) {
            throw new IOException("stunnel4 did not start: " + Files.readString(log));
        }
        if (!p.isAlive()) {
            throw new IOException("stunnel4 exited: " + Files.readString(log));
        }
        return p;
    }

    private static int freePort() throws IOException {
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return free.getLocalPort();
        }
    }

    private static boolean listening(int port) {
        try (Socket probe = new Socket()) {
            probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
