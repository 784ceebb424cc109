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
        SSLContext ctx = TlsHarness.jdkClient(mutual ? client : null, ca, "TLSv1.3");
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

    private static long[] run(SSLContext ctx, int port, int n, int k) throws Exception {
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
                        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(sock, "localhost", port, true);
                        ssl.startHandshake();
                        // the daemon's DISCONNECT follows CONNECT: wait for its close_notify, then go
                        ssl.getInputStream().read();
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

    private static final Map<Long, String> ROLES = new java.util.concurrent.ConcurrentHashMap<>();

    /** CPU time of the daemon's threads, by thread id. */
    private static Map<Long, Long> serverCpu() {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<Long, Long> out = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            // the service's threads on every transport (the upcalls now come over the Unix-domain socket);
            // rpc-client is the benchmark's own "kernel" side
            boolean service = name.startsWith("rpc-") && !name.startsWith("rpc-client");
            if (name.startsWith("handshake-") || name.startsWith("tls-") || service || name.startsWith("rpctlssd-")) {
                long v = mx.getThreadCpuTime(t.getId());
                if (v >= 0) {
                    out.put(t.getId(), v);
                    ROLES.put(t.getId(), name.replaceAll("-[0-9]+$", "").replaceAll("-[0-9]+-[0-9]+$", ""));
                }
            }
        }
        return out;
    }
}
