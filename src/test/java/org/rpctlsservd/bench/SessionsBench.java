package org.rpctlsservd.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * tools/bench-sessions: how many idle TLS sessions the daemon holds in a memory budget. The daemon as
 * it ships (launcher, packaged jar, the heap the launcher sizes from --memory-budget) with a front end
 * to a plain echo backend; idle TLS 1.3 sessions (probe, handshake, one NULL call relayed, then silent)
 * are opened in batches, smaller as the budget fills, until the daemon sheds for memory
 * ({@code rpctlssd_frontend_shed_total{reason="memory"}}), a session is lost, or the maximum. After each
 * batch: the sessions the daemon counts, what the budget charges, the live heap after a full GC
 * ({@code jcmd GC.class_histogram}), its RSS and the kernel's slab. Not a test.
 * Arguments: [BUDGET_MIB [MAX_SESSIONS [BATCH]]] (default 64, as many as the descriptor limit allows, 250).
 */
public final class SessionsBench {
    private SessionsBench() {
    }

    public static void main(String[] args) throws Exception {
        int budgetMiB = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        // Each session takes two descriptors here (client and the echo backend's end) and two in the daemon.
        int byFds = (int) ((openFileLimit() - 500) / 2);
        int max = Math.min(args.length > 1 ? Integer.parseInt(args[1]) : Integer.MAX_VALUE, Math.min(byFds, 9_500)); // EchoBackend: 10,000
        int batchMax = args.length > 2 ? Integer.parseInt(args[2]) : 250;

        Path dir = Files.createTempDirectory("bench-sessions");
        TestPki.Ca ca = TestPki.ca("Sessions CA");
        TestPki.writeServer(dir.resolve("server"), ca.leaf("server").dns("localhost").issue());
        SSLContext tls = TlsHarness.jdkClient(null, ca, "TLSv1.3");
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "client");
            t.setDaemon(true);
            return t;
        });
        List<RawRpc> held = new ArrayList<>(); // held: a TLS socket collected as garbage would close its session
        try (EchoBackend backend = new EchoBackend();
                DaemonProcess d = DaemonProcess.start(dir.resolve("d"), List.of(), List.of(), "-d", "-D",
                        dir.resolve("server").toString(), "--pidfile", dir.resolve("pid").toString(), "--rpc-socket",
                        dir.resolve("sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0", "--backend",
                        "127.0.0.1:" + backend.port(), "--backend-source-ports", "any", "--max-clients", "200000",
                        "--idle-timeout", "3600", "--memory-budget", String.valueOf(budgetMiB), "--metrics", "127.0.0.1:0")) {
            Matcher heapLine = Pattern.compile("memory budget .*heap").matcher(d.log());
            System.out.printf("daemon: %s; descriptors: %d (so at most %d sessions)%n",
                    heapLine.find() ? heapLine.group() : "(no budget line in its log)", openFileLimit(), max);
            for (int i = 0; i < 20; i++) { // the TLS code loaded and warm before the baseline
                open(d.frontEndPort, tls).close();
            }
            Await.until(() -> gauge(scrape(d), "rpctlssd_frontend_connections{state=\"tls\"}") == 0, "the warm-up closed", 30);
            String m0 = scrape(d);
            double charged0 = gauge(m0, "rpctlssd_frontend_memory_bytes");
            double limit = gauge(m0, "rpctlssd_frontend_memory_limit_bytes");
            long heap0 = d.heapUsedBytes();
            long rss0 = rssBytes(d.pid());
            long slab0 = slabBytes();
            System.out.printf("baseline: charged %d bytes of a %d MiB budget, live heap %.1f MiB, RSS %.1f MiB%n",
                    (long) charged0, (long) limit >> 20, heap0 / 1048576.0, rss0 / 1048576.0);
            System.out.printf("%8s %8s %12s %12s %12s %12s %10s%n", "opened", "held", "charged MiB", "live heap MiB",
                    "RSS MiB", "B charged", "B heap");
            Row before = null;
            Row after = null;
            String stopped = "the maximum (" + max + ")";
            int batch = batchMax;
            while (held.size() < max) {
                int n = Math.min(batch, max - held.size());
                List<Future<RawRpc>> opening = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    opening.add(pool.submit(() -> open(d.frontEndPort, tls)));
                }
                IOException failed = null;
                for (Future<RawRpc> f : opening) {
                    try {
                        held.add(f.get(60, TimeUnit.SECONDS));
                    } catch (java.util.concurrent.ExecutionException e) {
                        failed = new IOException(e.getCause());
                    }
                }
                int opened = held.size();
                // A client is done with its handshake before the daemon has read its Finished: wait for the daemon's side.
                Await.until(() -> {
                    String m = scrape(d);
                    return gauge(m, "rpctlssd_frontend_connections{state=\"tls\"}") >= opened
                            || gauge(m, "rpctlssd_frontend_shed_total{reason=\"memory\"}") > 0;
                }, "the daemon counts the " + opened + " sessions", 60);
                String m = scrape(d);
                double shed = gauge(m, "rpctlssd_frontend_shed_total{reason=\"memory\"}");
                Row row = new Row(opened, (int) gauge(m, "rpctlssd_frontend_connections{state=\"tls\"}"),
                        gauge(m, "rpctlssd_frontend_memory_bytes") - charged0, d.heapUsedBytes() - heap0, rssBytes(d.pid()) - rss0,
                        slabBytes() - slab0, (long) shed);
                row.print();
                if (shed > 0 || failed != null) {
                    after = row;
                    stopped = shed > 0 ? "the daemon's first shedding for memory" : "a session failed to open: " + failed.getMessage();
                    break;
                }
                before = row;
                // Smaller batches as the budget fills: the point where shedding began to within a few sessions.
                double each = row.charged / row.held;
                double room = (limit - charged0 - row.charged) / each;
                batch = (int) Math.max(5, Math.min(batchMax, room / 2));
            }
            System.out.println();
            System.out.printf("stopped at %s%n", stopped);
            if (before != null) {
                double each = before.charged / before.held;
                double perGiB = (1024 - 64) / 2.0 * 1048576 / each;
                System.out.printf(after == null || after.shed == 0 ? "sessions held, none shed: %d%s%n"
                        : "sessions held when shedding began: %d (the last batch without shedding; %s)%n", before.held,
                        after == null || after.shed == 0 ? "" : String.format("the next batch to %d opened %d shed, %d left",
                                after.opened, after.shed, after.held));
                System.out.printf("charged per session: %.0f bytes; live heap per session: %.0f bytes (charged %.2fx the heap); "
                        + "RSS per session: %.0f bytes (with the heap the JVM committed as it grew)%n", each, before.heap / (double) before.held, before.charged / before.heap,
                        before.rss / (double) before.held);
                System.out.printf("kernel slab per session: %.0f bytes (all four sockets of a session on this machine: the client's, "
                        + "the daemon's two, the backend's; /proc/meminfo Slab)%n", before.slab / (double) before.held);
                System.out.printf("a GiB of heap under the launcher's rule (budget = (1024 - 64) / 2 = 480 MiB): %.0f idle TLS sessions "
                        + "by the charge%s%n", perGiB, after == null || after.shed == 0 ? " (the budget was not reached here)"
                                : String.format(", %.0f scaling the sessions held here (%d x 480 / %d)", before.held * 480.0 / budgetMiB,
                                        before.held, budgetMiB));
            }
        } finally {
            for (RawRpc r : held) {
                r.close();
            }
            pool.shutdownNow();
            try (var files = Files.walk(dir)) { // the certificate, key, pidfile and log: nothing to keep
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** One batch's figures, all less the baseline's. */
    private record Row(int opened, int held, double charged, long heap, long rss, long slab, long shed) {
        void print() {
            System.out.printf("%8d %8d %12.1f %12.1f %12.1f %12.0f %10.0f%s%n", opened, held, charged / 1048576, heap / 1048576.0,
                    rss / 1048576.0, charged / held, heap / (double) held, shed > 0 ? "   shed for memory: " + shed : "");
        }
    }

    /** Probe, TLS 1.3, one NULL call relayed (so the session has earned its slot): then idle. */
    private static RawRpc open(int port, SSLContext tls) throws IOException {
        java.net.Socket s = RawRpc.connect(port);
        try {
            RawRpc r = FrontEndHarness.startTls(s, port, tls);
            r.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).proc(0).bytes());
            if (r.read().stat != 0) {
                throw new IOException("the NULL call was not answered");
            }
            return r;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private static final java.net.http.HttpClient SCRAPER = java.net.http.HttpClient.newHttpClient();

    /** The daemon's /metrics (on the free loopback port it logs). */
    private static String scrape(DaemonProcess d) {
        Matcher m = Pattern.compile("metrics: Prometheus /metrics and /ready on 127\\.0\\.0\\.1:(\\d+)").matcher(d.log());
        if (!m.find()) {
            throw new IllegalStateException("no metrics address in the daemon's log: " + d.log());
        }
        try {
            return SCRAPER.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + m.group(1) + "/metrics"))
                    .timeout(java.time.Duration.ofSeconds(10)).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One sample of a Prometheus text exposition; 0 when absent (a counter not yet incremented). */
    private static double gauge(String metrics, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static long openFileLimit() throws IOException {
        Matcher m = Pattern.compile("Max open files\\s+(\\d+)").matcher(Files.readString(Path.of("/proc/self/limits")));
        return m.find() ? Long.parseLong(m.group(1)) : 1024;
    }

    private static long rssBytes(long pid) throws IOException {
        Matcher m = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/" + pid + "/status")));
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : 0;
    }

    private static long slabBytes() throws IOException {
        Matcher m = Pattern.compile("Slab:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/meminfo")));
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : 0;
    }
}
