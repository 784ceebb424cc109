package org.rpctlsservd.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLContext;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * tools/bench-handshake --cold: the daemon as it ships (the launcher on the packaged jar, a process
 * of its own), started fresh: how long from launch until a first RFC 9289 client completes its
 * handshake, and the daemon's CPU (every thread, JIT included, from /proc) per handshake over the
 * first N handshakes against the next N, warm. Arguments: N K.
 */
public final class ColdStartBench {
    private ColdStartBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        Path dir = Files.createTempDirectory("bench-cold");
        TestPki.Ca ca = TestPki.ca("Cold CA");
        TestPki.writeServer(dir.resolve("server"), ca.leaf("server").dns("localhost").issue());
        SSLContext ctx = TlsHarness.jdkClient(null, ca, "TLSv1.3");
        // the client side warms up first, against a daemon that is then thrown away: only the daemon is cold
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        String[] daemonArgs = {"-d", "-D", dir.resolve("server").toString(), "--no-rpcbind", "--pidfile",
            dir.resolve("pid").toString(), "--rpc-socket", dir.resolve("sock").toString(), "--listen", "127.0.0.1:" + port,
            "--backend", "127.0.0.1:9", "--connect-queue", "100000"};
        try (DaemonProcess warmClients = DaemonProcess.start(dir.resolve("clients"), List.of(), List.of(), daemonArgs)) {
            handshakes(ctx, port, 500, k);
        }
        String jvm = System.getenv().getOrDefault("BENCH_DAEMON_JVM", "").trim(); // to try JVM options
        Process p = DaemonProcess.launch(dir.resolve("cold"), jvm.isEmpty() ? List.of() : List.of(jvm.split("\\s+")), List.of(),
                daemonArgs);
        long launched = System.nanoTime();
        // Tried every 2 ms on this thread: a tighter loop (a pool and a thread per try, every 0.2 ms) took
        // a good part of a core from the daemon starting beside it on two cores, and made launch look slower.
        long deadline = launched + TimeUnit.SECONDS.toNanos(60);
        while (!firstHandshake(ctx, port) && p.isAlive()) {
            if (System.nanoTime() > deadline) {
                throw new IOException("no handshake with the new daemon within 60 s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
        if (!p.isAlive()) {
            throw new IOException("the daemon ended: " + Files.readString(dir.resolve("cold/daemon.log")));
        }
        long first = System.nanoTime() - launched;
        try (DaemonProcess d = DaemonProcess.serving(p, dir.resolve("cold"))) {
            double c0 = d.cpuSeconds();
            var k0 = d.cpuSecondsByThreadKind();
            handshakes(ctx, port, n, k);
            double c1 = d.cpuSeconds();
            var k1 = d.cpuSecondsByThreadKind();
            handshakes(ctx, port, 2 * n, k); // settling
            double c2 = d.cpuSeconds();
            var k2 = d.cpuSecondsByThreadKind();
            handshakes(ctx, port, n, k);
            double c3 = d.cpuSeconds();
            var k3 = d.cpuSecondsByThreadKind();
            double cold = (c1 - c0) * 1e6 / n;
            double warm = (c3 - c2) * 1e6 / n;
            System.out.printf("launch to the first handshake done: %d ms%n", first / 1_000_000);
            System.out.printf("daemon CPU per handshake: first %d %.0f us, warm %.0f us: %.2fx%n", n, cold, warm, cold / warm);
            System.out.println("by kind of thread, per handshake (first, warm):");
            for (String kind : k1.keySet()) {
                double a = (k1.get(kind) - k0.getOrDefault(kind, 0.0)) * 1e6 / n;
                double b = (k3.getOrDefault(kind, 0.0) - k2.getOrDefault(kind, 0.0)) * 1e6 / n;
                if (a >= 1 || b >= 1) {
                    System.out.printf("  %-18s %6.0f us %6.0f us%n", kind, a, b);
                }
            }
            d.terminate(20); // an orderly stop (a class-data archive asked for is written then)
        }
    }

    /** One client's try while the daemon starts, on this thread: false until it listens and serves. */
    private static boolean firstHandshake(SSLContext ctx, int port) {
        try {
            client(ctx, port);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    /** One RFC 9289 client: probe, TLS 1.3. */
    private static void client(SSLContext ctx, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(30_000);
            FrontEndHarness.startTls(s, port, ctx, ssl -> { });
        }
    }

    /** {@code n} RFC 9289 clients (probe, TLS 1.3), {@code k} at a time; throws when one fails. */
    private static void handshakes(SSLContext ctx, int port, int n, int k) throws Exception {
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            List<Future<Void>> fs = new java.util.ArrayList<>();
            for (int t = 0; t < k; t++) {
                fs.add(pool.submit(() -> {
                    while (next.getAndIncrement() < n) {
                        client(ctx, port);
                    }
                    return null;
                }));
            }
            for (Future<Void> f : fs) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof IOException ? (IOException) e.getCause() : new IOException(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
