package org.rpctlsservd.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The hostile-load suite: each attack of issue 7, against the daemon as an administrator runs it
 * (tools/rpc.tlsservd and the packaged jar, so after {@code package}: a failsafe test) with its heap
 * capped at 256 MiB (so that an unbounded queue shows in seconds as an OutOfMemoryError), checked
 * from outside: heap after a full GC, file descriptors, vital threads, good clients' latency, and
 * the exit on a forced OutOfMemoryError. {@code -Dtorture.seconds=N} (tools/torture) makes every
 * attack last N seconds; CI runs the short form. Figures go to target/torture-report.txt.
 */
class HostileLoadIT {
    static final int SECONDS = Integer.getInteger("torture.seconds", 3);
    static final List<String> HEAP = List.of("-Xmx256m");
    static final Path REPORT = Path.of("target", "torture-report.txt");
    /** How long SIGTERM may take (the daemon's own deadline is 8 s). */
    static final int STOP_SECONDS = 10;
    /** Threads the daemon cannot live without, as /proc names them (15 characters at most). */
    static final List<String> VITAL = List.of("frontend-io", "rpctlssd-timer", "handshake-1", "rpc-accept-tcp-",
            "rpc-accept-loca");

    static TestPki.Ca ca;
    static TestPki.Issued server;
    static SSLContext clientTls;

    @TempDir
    Path tmp;
    EchoBackend backend;
    private final List<Socket> sockets = new ArrayList<>();
    private final ExecutorService attackers = daemonThreads("attacker");
    private final AtomicBoolean stop = new AtomicBoolean();

    /** A pool of daemon threads: an attacker left blocked never keeps the test JVM alive. */
    static ExecutorService daemonThreads(String name) {
        return Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    @BeforeAll
    static void pki() throws Exception {
        ca = TestPki.ca("Torture CA");
        server = ca.leaf("server").dns("localhost").issue();
        clientTls = TlsHarness.jdkClient(null, ca, "TLSv1.3");
    }

    @BeforeEach
    void setUp() throws IOException {
        backend = new EchoBackend();
        TestPki.writeServer(tmp.resolve("server"), server);
    }

    @AfterEach
    void tearDown() throws Exception {
        stop.set(true);
        for (Socket s : sockets) {
            s.close();
        }
        attackers.shutdownNow();
        attackers.awaitTermination(10, TimeUnit.SECONDS);
        backend.close();
    }

    private List<String> args(String... extra) {
        List<String> a = new ArrayList<>(List.of("-d", "-D", tmp.resolve("server").toString(), "--pidfile", tmp.resolve("pid").toString(),
                "--rpc-socket", tmp.resolve("rpctlssd.sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0"));
        a.addAll(Arrays.asList(extra));
        if (!a.contains("--backend")) {
            a.addAll(List.of("--backend", "127.0.0.1:" + backend.port()));
        }
        if (!a.contains("--backend-source-ports")) {
            a.addAll(List.of("--backend-source-ports", "any")); // thousands of relayed clients: more than 359 reserved ports (PortsAttackIT)
        }
        return a;
    }

    private DaemonProcess daemon(List<String> jvm, List<String> prefix, String... extra) throws Exception {
        return DaemonProcess.start(tmp.resolve("d"), jvm, prefix, args(extra).toArray(new String[0]));
    }

    static void report(String line) throws IOException {
        Files.createDirectories(REPORT.getParent());
        Files.writeString(REPORT, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** A good RFC 9289 client: probe, TLS 1.3, one call relayed to the backend; its latency in ms. */
    static long goodClient(int port) throws Exception {
        return goodClient(port, clientTls);
    }

    /** The same with the client's TLS set up by {@code tls} (another suite's CA). */
    static long goodClient(int port, SSLContext tls) throws Exception {
        long t0 = System.nanoTime();
        try (Socket s = RawRpc.connect(port)) {
            RawRpc r = tlsSession(s, port, tls);
            r.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            RawRpc.Reply reply = r.read();
            assertEquals(0, reply.stat, reply.toString());
            r.close();
        }
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    /**
     * The most a good client may take during an attack: half the daemon's 10 s handshake deadline, which
     * a starved one waits for (or its own 20 s timeout). A served one takes well under a second on an
     * idle 2-core machine, up to 3.3 s seen while other builds loaded it 6-fold (the first clients of a
     * fresh daemon pay for its JIT compiling the TLS code).
     */
    static final long GOOD_CLIENT_MS = 5000;

    /** Good clients served during an attack, and the worst latency among them in ms. */
    record GoodClients(int served, long worstMs) {
    }

    /** Good clients once a second during the attack, each one served or the test fails. */
    static GoodClients goodClientsDuring(DaemonProcess d, int seconds) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        return goodClientsUntil(d, () -> System.nanoTime() >= end);
    }

    /** Good clients once a second, at least one, until {@code over}; each one served or the test fails. */
    static GoodClients goodClientsUntil(DaemonProcess d, java.util.function.BooleanSupplier over) throws Exception {
        long worst = 0;
        int served = 0;
        do {
            long t = System.nanoTime();
            worst = Math.max(worst, goodClient(d.frontEndPort));
            served++;
            assertTrue(d.process.isAlive(), d.log());
            long left = TimeUnit.SECONDS.toNanos(1) - (System.nanoTime() - t);
            if (left > 0) {
                TimeUnit.NANOSECONDS.sleep(left); // pacing the probes, not waiting for a result
            }
        } while (!over.getAsBoolean());
        return new GoodClients(served, worst);
    }

    private void assertWhole(DaemonProcess d) throws IOException {
        assertTrue(d.process.isAlive(), d.log());
        List<String> names = d.threads();
        for (String v : VITAL) {
            assertTrue(names.stream().anyMatch(n -> n.startsWith(v)), "thread " + v + " alive: " + names);
        }
    }

    private void assertFdsBack(DaemonProcess d, int before) {
        Await.until(() -> d.fds() <= before + 2, "descriptors back to " + before + " (now " + d.fds() + ")", 60);
    }

    /** Streams bad STARTTLS probes, which the front end answers itself, and never reads. */
    private Socket flooder(int port) throws IOException {
        Socket s = FrontEndHarness.nonReading(port);
        sockets.add(s);
        byte[] bytes = FrontEndHarness.badProbes(1000);
        attackers.submit(() -> {
            try {
                OutputStream out = s.getOutputStream();
                while (!stop.get()) {
                    out.write(bytes);
                }
            } catch (IOException e) {
                // closed by the daemon or by the test
            }
        });
        return s;
    }

    @Test
    void clientsThatStreamProbesAndNeverReadLeaveTheHeapBounded() throws Exception {
        try (DaemonProcess d = daemon(HEAP, List.of())) {
            long heap0 = d.heapUsedMiB();
            int fds0 = d.fds();
            for (int i = 0; i < 20; i++) {
                flooder(d.frontEndPort);
            }
            GoodClients good = goodClientsDuring(d, SECONDS);
            long heap1 = d.heapUsedMiB();
            report(String.format("non-reading probe flood, 20 clients, %d s: heap %d -> %d MiB (%.1f MiB/s), %d good clients served, worst %d ms, "
                    + "fds %d", SECONDS, heap0, heap1, (heap1 - heap0) / (double) SECONDS, good.served(), good.worstMs(), fds0));
            assertWhole(d);
            assertTrue(heap1 - heap0 < 64, "heap grew from " + heap0 + " to " + heap1 + " MiB");
            assertTrue(good.worstMs() < GOOD_CLIENT_MS, "a good client took " + good.worstMs() + " ms");
            for (Socket s : sockets) {
                s.close();
            }
            assertFdsBack(d, fds0);
            // the good clients' backend connections close as they end: the backend sees each EOF a moment later
            org.rpctlsservd.support.Await.until(() -> backend.connections() == 0, "the good clients' backend connections closed", 10);
            assertEquals(0, backend.connections(), "probes alone opened no backend connection");
            assertEquals(0, d.terminate(STOP_SECONDS), d.log());
        }
    }

    @Test
    void clientsBehindABackendThatNeverReadsAreBoundedAndClosedAfterTheWriteTimeout() throws Exception {
        try (ServerSocket deaf = new ServerSocket(0, 1000, java.net.InetAddress.getLoopbackAddress());
                DaemonProcess d = daemon(HEAP, List.of(), "--backend", "127.0.0.1:" + deaf.getLocalPort(), "--write-timeout", "2")) {
            List<Socket> held = java.util.Collections.synchronizedList(new ArrayList<>());
            attackers.submit(() -> {
                while (!stop.get()) {
                    held.add(deaf.accept()); // accepted, never read
                }
                return null;
            });
            long heap0 = d.heapUsedMiB();
            int fds0 = d.fds();
            byte[] call = FrontEndHarness.whoami(1, FrontEndHarness.authNone()).args(new byte[60 * 1024]).bytes();
            byte[] framed = ByteBuffer.allocate(call.length + 4).putInt(0x80000000 | call.length).put(call).array();
            AtomicInteger ended = new AtomicInteger();
            List<Long> closedAfterMs = java.util.Collections.synchronizedList(new ArrayList<>());
            long t0 = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                Socket s = RawRpc.connect(d.frontEndPort);
                sockets.add(s);
                attackers.submit(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        while (!stop.get()) {
                            out.write(framed);
                        }
                    } catch (IOException e) {
                        closedAfterMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                        ended.incrementAndGet(); // the daemon gave the connection up
                    }
                });
            }
            // Meanwhile new clients still get their STARTTLS reply and their handshake (no call: the backend answers none).
            int handshakes = 0;
            long worst = 0;
            long deadline = t0 + TimeUnit.SECONDS.toNanos(60);
            while (ended.get() < 20) {
                assertTrue(System.nanoTime() < deadline, "every client behind the deaf backend closed by the write timeout: " + ended.get()
                        + " of 20 after 60 s");
                long t = System.nanoTime();
                try (Socket s = RawRpc.connect(d.frontEndPort)) {
                    s.setSoTimeout(20_000);
                    FrontEndHarness.startTls(s, d.frontEndPort, clientTls, ssl -> { }).close();
                }
                worst = Math.max(worst, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t));
                handshakes++;
            }
            long first = java.util.Collections.min(closedAfterMs);
            long last = java.util.Collections.max(closedAfterMs);
            long heap1 = d.heapUsedMiB();
            report(String.format("20 clients behind a backend that never reads, --write-timeout 2: heap %d -> %d MiB, closed %d to %d ms after "
                    + "they began; meanwhile %d new clients' handshakes done, worst %d ms", heap0, heap1, first, last, handshakes, worst));
            assertWhole(d);
            assertTrue(heap1 - heap0 < 64, "heap grew from " + heap0 + " to " + heap1 + " MiB");
            // Not before 2 s without progress; after that, within the sweep (a quarter of the timeout) and the time the
            // buffers take to fill, which is well under a second: 10 s leaves room for a busy machine.
            assertTrue(first >= 2000, "the first client was closed " + first + " ms after it began, before the 2 s write timeout");
            assertTrue(last < 10_000, "the last client was closed " + last + " ms after it began");
            assertTrue(handshakes > 0 && worst < GOOD_CLIENT_MS, handshakes + " handshakes during the attack, worst " + worst + " ms");
            synchronized (held) {
                for (Socket s : held) {
                    s.close();
                }
            }
            assertFdsBack(d, fds0);
        }
    }

    @Test
    void idleUnauthenticatedClientsCostTheBackendNothing() throws Exception {
        // --first-call-timeout past the attack: the idle clients stay for all of it (at the default 10 s a busy machine's
        // first ones were closed before the last connected, and a long attack went on without them)
        try (DaemonProcess d = daemon(HEAP, List.of(), "--first-call-timeout", String.valueOf(SECONDS + 120))) {
            int fds0 = d.fds();
            for (int i = 0; i < 500; i++) {
                sockets.add(RawRpc.connect(d.frontEndPort));
            }
            // The daemon took them all (a descriptor each), so they are there to cost the backend something.
            Await.until(() -> d.fds() >= fds0 + 500, "the daemon holds the 500 idle clients (fds " + fds0 + " -> " + d.fds() + ")", 30);
            GoodClients good = goodClientsDuring(d, SECONDS);
            int held = d.fds() - fds0;
            assertTrue(held >= 500, "the idle clients were held through the attack: " + held + " descriptors more than before it");
            int open = backend.connections();
            report(String.format("500 idle unauthenticated clients: %d backend connections open (was one each), %d good clients served, "
                    + "worst %d ms", open, good.served(), good.worstMs()));
            assertTrue(open <= 1, open + " backend connections: only the good client's last one may still be open");
            assertTrue(good.worstMs() < GOOD_CLIENT_MS, "a good client took " + good.worstMs() + " ms");
            for (Socket s : sockets) {
                s.close();
            }
            assertFdsBack(d, fds0);
        }
    }

    /** Idle TLS sessions for the memory attack (-Dtorture.sessions; the issue's figure is 2,100 at this heap). */
    static final int IDLE_SESSIONS = Integer.getInteger("torture.sessions", 600);

    /** The value of one sample in a Prometheus text exposition, e.g. {@code rpctlssd_frontend_memory_bytes}. */
    static double sample(String metrics, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
        assertTrue(m.find(), series + " in\n" + metrics);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void idleTlsSessionsAreChargedWhatTheyHoldAndAnActiveSessionNeverFreezes() throws Exception {
        try (DaemonProcess d = daemon(HEAP, List.of(), "--metrics", "127.0.0.1:0")) {
            goodClient(d.frontEndPort); // the TLS code loaded and warm before the first figure
            long heap0 = d.heapUsedBytes();
            double charged0 = sample(scrapeMetrics(d), "rpctlssd_frontend_memory_bytes");
            // One session stays active throughout: a call every 50 ms, each answered or the test fails.
            Socket activeSocket = RawRpc.connect(d.frontEndPort);
            sockets.add(activeSocket);
            RawRpc active = tlsSession(activeSocket, d.frontEndPort);
            AtomicInteger activeCalls = new AtomicInteger();
            java.util.concurrent.atomic.AtomicLong activeWorst = new java.util.concurrent.atomic.AtomicLong();
            Future<?> activity = attackers.submit(() -> {
                int xid = 100;
                while (!stop.get()) {
                    long t = System.nanoTime();
                    active.send(FrontEndHarness.whoami(xid++, FrontEndHarness.authNone()).bytes());
                    assertEquals(0, active.read().stat);
                    activeWorst.accumulateAndGet(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t), Math::max);
                    activeCalls.incrementAndGet();
                    TimeUnit.MILLISECONDS.sleep(50); // pacing the calls, not waiting for a result
                }
                return null;
            });
            List<RawRpc> idle = new ArrayList<>(); // held: a TLS socket collected as garbage closes its connection
            for (int i = 0; i < IDLE_SESSIONS; i++) {
                Socket s = RawRpc.connect(d.frontEndPort);
                sockets.add(s);
                RawRpc r = tlsSession(s, d.frontEndPort);
                r.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
                assertEquals(0, r.read().stat); // one call relayed, then idle: it never sends again
                idle.add(r);
            }
            // A client is done with its handshake before the daemon has read its Finished: wait for the daemon's side.
            Await.until(() -> tlsConnections(d) == IDLE_SESSIONS + 1, "every session's handshake done on the daemon's side", 60);
            // Idle as a deployment's sessions mostly are: quiet, their cipher objects given up (IdleSweep.QUIET_NANOS).
            Await.until(() -> quietSessions(d) >= IDLE_SESSIONS, "every idle session quiet", 60);
            String metrics = scrapeMetrics(d);
            long heap1 = d.heapUsedBytes();
            double charged1 = sample(metrics, "rpctlssd_frontend_memory_bytes");
            GoodClients good = goodClientsDuring(d, SECONDS);
            stop.set(true);
            activity.get(30, TimeUnit.SECONDS); // the active session's failures, if any, surface here
            long perSessionHeap = (heap1 - heap0) / IDLE_SESSIONS;
            long perSessionCharged = (long) (charged1 - charged0) / IDLE_SESSIONS;
            double shed = sample(scrapeMetrics(d), "rpctlssd_frontend_shed_total{reason=\"memory\"}");
            report(String.format("%d idle TLS sessions: live heap %d -> %d MiB, %d bytes each; the budget charges %d bytes each (%.2fx); "
                    + "memory shed %d; the active session made %d calls, worst %d ms; %d good clients served, worst %d ms",
                    IDLE_SESSIONS, heap0 >> 20, heap1 >> 20, perSessionHeap, perSessionCharged, perSessionCharged / (double) perSessionHeap,
                    (long) shed, activeCalls.get(), activeWorst.get(), good.served(), good.worstMs()));
            assertTrue(perSessionCharged >= perSessionHeap * 0.67 && perSessionCharged <= perSessionHeap * 1.5,
                    "the budget charges " + perSessionCharged + " bytes per idle TLS session; the heap holds " + perSessionHeap);
            assertEquals(0, shed, "nobody shed: " + IDLE_SESSIONS + " sessions fit the budget");
            assertTrue(activeCalls.get() > 0 && activeWorst.get() < GOOD_CLIENT_MS, "the active session: " + activeCalls.get()
                    + " calls, worst " + activeWorst.get() + " ms");
            assertTrue(good.worstMs() < GOOD_CLIENT_MS, "a good client took " + good.worstMs() + " ms");

            // The same for plain connections, each with one call relayed (so it earned its slot).
            active.close();
            for (RawRpc r : idle) {
                r.close();
            }
            Await.until(() -> tlsConnections(d) == 0, "the idle sessions closed", 60);
            long heap2 = d.heapUsedBytes();
            double charged2 = sample(scrapeMetrics(d), "rpctlssd_frontend_memory_bytes");
            for (int i = 0; i < IDLE_SESSIONS; i++) {
                Socket s = RawRpc.connect(d.frontEndPort);
                sockets.add(s);
                RawRpc r = new RawRpc(s);
                r.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
                assertEquals(0, r.read().stat);
            }
            long heap3 = d.heapUsedBytes();
            double charged3 = sample(scrapeMetrics(d), "rpctlssd_frontend_memory_bytes");
            long perPlainHeap = (heap3 - heap2) / IDLE_SESSIONS;
            long perPlainCharged = (long) (charged3 - charged2) / IDLE_SESSIONS;
            report(String.format("%d idle plain connections (one call each): %d bytes each on the heap; the budget charges %d (%.2fx)",
                    IDLE_SESSIONS, perPlainHeap, perPlainCharged, perPlainCharged / (double) perPlainHeap));
            assertTrue(perPlainCharged >= perPlainHeap * 0.67 && perPlainCharged <= perPlainHeap * 1.5,
                    "the budget charges " + perPlainCharged + " bytes per idle plain connection; the heap holds " + perPlainHeap);
        }
    }

    private static double quietSessions(DaemonProcess d) {
        try {
            return sample(scrapeMetrics(d), "rpctlssd_frontend_quiet_total");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static int tlsConnections(DaemonProcess d) {
        try {
            return (int) sample(scrapeMetrics(d), "rpctlssd_frontend_connections{state=\"tls\"}");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Probe and TLS 1.3 on {@code s}: the session's record stream. */
    private static RawRpc tlsSession(Socket s, int port) throws IOException {
        return tlsSession(s, port, clientTls);
    }

    private static RawRpc tlsSession(Socket s, int port, SSLContext tls) throws IOException {
        return FrontEndHarness.startTls(s, port, tls);
    }

    @Test
    void atTheDescriptorLimitClientsAreRefusedAtOnceAndNothingSpins() throws Exception {
        // The idle sockets must hold their descriptors for the whole attack: the first-call deadline (SlotsAttackIT's
        // subject) would free them after 10 s, and the late clients would be served, not measured at the limit.
        try (DaemonProcess d = daemon(HEAP, List.of("prlimit", "--nofile=160:160", "--"), "--first-call-timeout", "3600")) {
            int service = servicePort(d);
            for (int i = 0; i < 300; i++) { // far past 160 descriptors: the front end takes one per client
                try {
                    sockets.add(RawRpc.connect(i % 10 == 0 ? service : d.frontEndPort));
                } catch (IOException e) {
                    break; // the listen queues are full too
                }
            }
            Await.until(() -> d.log().contains("out of file descriptors") || !d.process.isAlive(), "the daemon noticed the limit", 30);
            assertTrue(d.process.isAlive(), d.log());
            double cpu0 = d.cpuSeconds();
            long t0 = System.nanoTime();
            int refused = 0;
            int served = 0;
            long worstRefusal = 0;
            long end = t0 + TimeUnit.SECONDS.toNanos(Math.max(2, SECONDS));
            while (System.nanoTime() < end) {
                long t = System.nanoTime();
                Socket lateSocket;
                try {
                    lateSocket = RawRpc.connect(d.frontEndPort);
                } catch (IOException e) {
                    throw new AssertionError("the front end stopped listening: " + d.log(), e);
                }
                try (RawRpc late = new RawRpc(lateSocket)) {
                    // Refused at once, or (when a descriptor came free for it) served: never left hanging.
                    late.send(FrontEndHarness.probe(9));
                    try {
                        late.readRecord();
                        served++;
                    } catch (java.net.SocketTimeoutException e) {
                        throw new AssertionError("a client past the limit was left hanging: " + d.log() + "\nfds " + d.fds() + "\n"
                                + Commands.run(30, "jcmd", String.valueOf(d.pid()), "Thread.print").output(), e);
                    } catch (IOException e) {
                        refused++;
                    }
                }
                worstRefusal = Math.max(worstRefusal, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t));
            }
            double cpu = (d.cpuSeconds() - cpu0) / ((System.nanoTime() - t0) / 1e9);
            long lines = d.log().lines().filter(l -> l.contains("out of file descriptors")).count();
            assertTrue(cpu < 0.5, "the daemon used " + cpu + " cores at the limit");
            assertTrue(lines <= 2 + SECONDS / 10 * 2, lines + " log lines about the limit");
            assertTrue(worstRefusal < 3000, "refused or answered within " + worstRefusal + " ms");
            // The limit was really reached (clients were refused); how many were served instead depends on
            // how fast a freed descriptor is taken again (the loop that frees it also accepts), not on the guard.
            assertTrue(refused > 0, refused + " late clients refused, " + served + " served");
            report(String.format("at the fd limit (160): %d late clients refused, %d served, worst %d ms; daemon CPU %.2f cores; %d log lines",
                    refused, served, worstRefusal, cpu, lines));
            for (Socket s : sockets) {
                s.close();
            }
            sockets.clear();
            java.util.concurrent.atomic.AtomicReference<Throwable> lastFailure = new java.util.concurrent.atomic.AtomicReference<>();
            try {
                Await.until(() -> {
                    try {
                        goodClient(d.frontEndPort);
                        return true;
                    } catch (Exception | AssertionError e) {
                        lastFailure.set(e);
                        return false;
                    }
                }, "good clients served again once descriptors are free", 30);
            } catch (AssertionError e) {
                AssertionError why = new AssertionError(e.getMessage() + "; the daemon's log:\n" + d.log(), lastFailure.get());
                throw why;
            }
            assertWhole(d);
        }
    }

    private static int servicePort(DaemonProcess d) {
        Matcher m = Pattern.compile("serving RPCTLSSD \\(1080521589\\) version 2 on 127.0.0.1 port (\\d+)").matcher(d.log());
        assertTrue(m.find(), d.log());
        return Integer.parseInt(m.group(1));
    }

    @Test
    void anUnprivilegedUserCannotDriveTheUpcallsNorStarveThem() throws Exception {
        try (DaemonProcess d = daemon(HEAP, List.of())) {
            int service = servicePort(d);
            int fds0 = d.fds();
            for (int i = 0; i < 64; i++) {
                sockets.add(RawRpc.connect(service)); // every TCP connection slot
            }
            Await.until(() -> d.fds() >= fds0 + 64, "the daemon holds all 64 TCP connections (fds " + fds0 + " -> " + d.fds() + ")", 30);
            UdpFlood flood = new UdpFlood();
            Future<?> flooding = attackers.submit(() -> flood.run(service));
            long worst = 0;
            int good = 0;
            String goodFailure = null;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
            while (System.nanoTime() < end || good < 20) {
                try {
                    worst = Math.max(worst, goodClient(d.frontEndPort));
                    good++;
                } catch (Exception | AssertionError e) {
                    goodFailure = String.valueOf(e);
                    break; // the test fails: no need to wait out the attack
                }
            }
            stop.set(true);
            flooding.get(10, TimeUnit.SECONDS); // a wait for a reply ends within its 1 s timeout
            long failedLines = d.log().lines().filter(l -> l.contains("result=failed")).count();
            report(String.format("unprivileged CONNECT/DISCONNECT flood plus all 64 TCP slots held, %d s: %d calls sent, %d refused AUTH_TOOWEAK, "
                    + "%d other replies, %d unanswered within 1 s, %d send or receive errors; %d good TLS clients served, %s, worst %d ms",
                    SECONDS, flood.sent.get(), flood.tooWeak.get(), flood.unexpected.size(), flood.timeouts.get(), flood.errors.size(), good,
                    goodFailure == null ? "none failed" : "one failed: " + goodFailure, worst));
            assertEquals(null, goodFailure, "every good client served during the flood");
            assertTrue(good >= 20, good + " good clients");
            assertTrue(worst < GOOD_CLIENT_MS, "a good client took " + worst + " ms");
            assertTrue(flood.tooWeak.get() > 0, "the flood was answered");
            assertEquals(List.of(), flood.unexpected, "every reply to an unprivileged CONNECT/HANDLERECORD/DISCONNECT is AUTH_TOOWEAK");
            assertEquals(List.of(), flood.errors, "the flood ran: no send or receive failed");
            assertEquals(0, failedLines, d.log());
            assertWhole(d);
        }
    }

    /**
     * CONNECT, HANDLERECORD and DISCONNECT calls over UDP from an unprivileged port, one at a time, until
     * the test stops it; every reply is counted by its kind, and a call left unanswered does not end it.
     */
    private final class UdpFlood {
        final AtomicInteger sent = new AtomicInteger();
        final AtomicInteger tooWeak = new AtomicInteger();
        final AtomicInteger timeouts = new AtomicInteger();
        final List<String> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
        final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());

        Void run(int service) throws IOException {
            try (java.net.DatagramSocket udp = new java.net.DatagramSocket()) {
                udp.setSoTimeout(1000);
                java.util.Random rnd = new java.util.Random();
                byte[] buf = new byte[512];
                InetSocketAddress to = new InetSocketAddress("127.0.0.1", service);
                for (int xid = 1; !stop.get(); xid++) {
                    byte[] q = RawRpc.call().xid(xid).prog(RawRpc.RPCTLSSD).vers(2).proc(1 + (xid % 3)).args(RawRpc.hyper(rnd.nextLong())).bytes();
                    java.net.DatagramPacket p = new java.net.DatagramPacket(buf, buf.length);
                    try {
                        udp.send(new java.net.DatagramPacket(q, q.length, to));
                        sent.incrementAndGet();
                        udp.receive(p);
                    } catch (java.net.SocketTimeoutException e) {
                        timeouts.incrementAndGet();
                        continue;
                    } catch (IOException e) {
                        errors.add(String.valueOf(e));
                        continue;
                    }
                    // A late reply to an earlier call may come in place of this one's: it is counted by its kind all the same.
                    RawRpc.Reply r;
                    try {
                        r = RawRpc.Reply.parse(Arrays.copyOf(p.getData(), p.getLength()));
                    } catch (RuntimeException e) {
                        unexpected.add("unreadable, " + p.getLength() + " bytes: " + e);
                        continue;
                    }
                    if (r.type == 1 && r.replyStat == 1 && r.stat == 1 && r.authStat == 5) { // MSG_DENIED, AUTH_ERROR, AUTH_TOOWEAK
                        tooWeak.incrementAndGet();
                    } else {
                        unexpected.add(r.toString());
                    }
                }
            }
            return null;
        }
    }

    @Test
    void aBurstOfNewClientsNeverAbortsAdmittedHandshakes() throws Exception {
        // -Dtorture.burst=CLIENTS,AT_ONCE,QUEUE (issue 7 measured 5000,1000,1024)
        String[] burstSpec = System.getProperty("torture.burst", 100 * Math.max(2, SECONDS) + ",100,32").split(",");
        int clients = Integer.parseInt(burstSpec[0]);
        int atOnce = Integer.parseInt(burstSpec[1]);
        int queue = Integer.parseInt(burstSpec[2]);
        try (DaemonProcess d = daemon(HEAP, List.of(), "-N", "1", "--connect-queue", burstSpec[2], "--metrics", "127.0.0.1:0")) {
            ExecutorService burst = Executors.newFixedThreadPool(atOnce);
            List<Future<BurstClient>> all = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                all.add(burst.submit(() -> burstClient(d.frontEndPort)));
            }
            java.util.Map<Fate, Integer> fates = new java.util.EnumMap<>(Fate.class);
            java.util.Map<String, Integer> why = new java.util.TreeMap<>();
            int refusedAfterProbe = 0;
            for (Future<BurstClient> f : all) {
                BurstClient c = f.get(600, TimeUnit.SECONDS);
                fates.merge(c.fate(), 1, Integer::sum);
                if (c.fate() != Fate.SERVED) {
                    why.merge(c.fate() + ": " + c.why(), 1, Integer::sum);
                }
                if (c.fate() == Fate.REFUSED && c.probeAnswered()) {
                    refusedAfterProbe++;
                }
            }
            burst.shutdown();
            int served = fates.getOrDefault(Fate.SERVED, 0);
            int refused = fates.getOrDefault(Fate.REFUSED, 0);
            int aborted = fates.getOrDefault(Fate.ABORTED, 0);
            // The daemon's own count of the same events: its audit lines and its handshake counters.
            long failedLines = d.log().lines().filter(l -> l.contains("result=failed")).count();
            String metrics = scrapeMetrics(d);
            long okHandshakes = handshakes(metrics, "ok", "none");
            long queueFull = handshakes(metrics, "failed", "queue_full");
            long otherFailures = handshakes(metrics, "failed", null) - queueFull;
            report(String.format("burst of %d TLS clients, %d at a time, -N 1, --connect-queue %d: %d served, %d refused at admission "
                    + "(%d after the STARTTLS reply; daemon: %d CONNECTs refused as the queue was full), %d aborted; daemon: %d handshakes ok, "
                    + "%d admitted ones failed%s", clients, atOnce, queue, served, refused, refusedAfterProbe, queueFull, aborted, okHandshakes,
                    otherFailures, why.isEmpty() ? "" : " " + why));
            assertEquals(0, aborted, "clients whose handshake began, or that were left hanging, and were not served: " + why);
            assertEquals(0, failedLines, "no admitted handshake failed: " + d.log());
            assertEquals(0, otherFailures, "the daemon counted no failed handshake but the refused CONNECTs:\n" + metrics);
            assertEquals(served, okHandshakes, "every handshake the daemon completed served its client, and no client was served without one");
            assertEquals(refusedAfterProbe, queueFull, "each client dropped after its STARTTLS reply is a CONNECT the full queue refused: " + why);
            // The queue starts empty and nothing admitted fails (above), so it refuses only once `queue` admitted
            // CONNECTs wait, each of which is then served; and with no more than `queue` clients in flight it is never full.
            assertTrue(served >= Math.min(clients, queue), served + " served: at least the first " + Math.min(clients, queue) + " admitted");
            if (atOnce <= queue) {
                assertEquals(0, refused, "at most " + atOnce + " CONNECTs wait at once, which a queue of " + queue + " holds: " + why);
            }
            assertWhole(d);
        }
    }

    /** How a client of the burst ended. */
    private enum Fate {
        /** Its call was answered. */
        SERVED,
        /** Closed or reset before the server sent a byte of TLS: a CONNECT the full queue refused, say. */
        REFUSED,
        /** Anything else: a failure once the server's TLS began, a client left hanging, a wrong reply. */
        ABORTED
    }

    private record BurstClient(Fate fate, boolean probeAnswered, String why) {
    }

    /** A client socket that counts what it reads: the JDK's TLS layer on it reads through {@link #getInputStream()}. */
    private static final class CountingSocket extends Socket {
        final java.util.concurrent.atomic.AtomicLong read = new java.util.concurrent.atomic.AtomicLong();

        @Override
        public java.io.InputStream getInputStream() throws IOException {
            return new java.io.FilterInputStream(super.getInputStream()) {
                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        read.incrementAndGet();
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        read.addAndGet(n);
                    }
                    return n;
                }
            };
        }
    }

    /**
     * A good client of the burst, as {@link #goodClient}, told apart by what it saw: the front end answers
     * the STARTTLS probe before its CONNECT upcall, so a refused CONNECT shows as the connection closed or
     * reset after that reply with not one byte of TLS from the server.
     */
    private static BurstClient burstClient(int port) {
        CountingSocket s = new CountingSocket();
        long beforeTls = -1;
        try (s) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setTcpNoDelay(true);
            RawRpc plain = new RawRpc(s);
            plain.send(FrontEndHarness.probe(1));
            RawRpc.Reply startTls = plain.read();
            if (startTls.replyStat != 0 || startTls.stat != 0 || !"STARTTLS".equals(new String(startTls.verfBody, StandardCharsets.US_ASCII))) {
                return new BurstClient(Fate.ABORTED, false, "not a STARTTLS reply: " + startTls);
            }
            beforeTls = s.read.get();
            SSLSocket ssl = (SSLSocket) clientTls.getSocketFactory().createSocket(s, "localhost", port, true);
            ssl.setSoTimeout(20_000);
            ssl.startHandshake();
            RawRpc r = new RawRpc(ssl);
            r.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            RawRpc.Reply reply = r.read();
            if (reply.replyStat != 0 || reply.stat != 0) {
                return new BurstClient(Fate.ABORTED, true, "call answered " + reply);
            }
            r.close();
            if (s.read.get() == beforeTls) { // the count that tells refusals from aborts would be wrong
                return new BurstClient(Fate.ABORTED, true, "served, yet no TLS byte counted");
            }
            return new BurstClient(Fate.SERVED, true, "");
        } catch (IOException e) {
            boolean probeAnswered = beforeTls >= 0;
            long tls = probeAnswered ? s.read.get() - beforeTls : 0;
            boolean hanging = false;
            for (Throwable t = e; t != null; t = t.getCause()) {
                hanging |= t instanceof java.net.SocketTimeoutException;
            }
            if (tls == 0 && !hanging) {
                return new BurstClient(Fate.REFUSED, probeAnswered, (probeAnswered ? "after" : "before") + " the STARTTLS reply: " + e);
            }
            return new BurstClient(Fate.ABORTED, probeAnswered, (hanging ? "left hanging" : "after " + tls + " bytes of TLS") + ": " + e);
        } catch (RuntimeException e) {
            return new BurstClient(Fate.ABORTED, beforeTls >= 0, String.valueOf(e)); // a malformed reply, say
        }
    }

    /** One client for every scrape: a new one each time leaves its idle connection open, and the port takes 64. */
    private static final java.net.http.HttpClient SCRAPER = java.net.http.HttpClient.newHttpClient();

    /** The daemon's /metrics (it was started with --metrics on a free loopback port, which it logs). */
    static String scrapeMetrics(DaemonProcess d) throws Exception {
        Matcher m = Pattern.compile("metrics: Prometheus /metrics and /ready on 127\\.0\\.0\\.1:(\\d+)").matcher(d.log());
        assertTrue(m.find(), d.log());
        java.net.http.HttpResponse<String> r = SCRAPER.send(java.net.http.HttpRequest
                .newBuilder(java.net.URI.create("http://127.0.0.1:" + m.group(1) + "/metrics")).timeout(java.time.Duration.ofSeconds(10))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    /** The sum of rpctlssd_handshakes_total with this result and reason (null: any reason). */
    private static long handshakes(String metrics, String result, String reason) {
        Matcher m = Pattern.compile("^rpctlssd_handshakes_total\\{reason=\"([a-z_]+)\",result=\"" + result + "\"\\} (\\S+)$",
                Pattern.MULTILINE).matcher(metrics);
        long sum = 0;
        while (m.find()) {
            if (reason == null || reason.equals(m.group(1))) {
                sum += (long) Double.parseDouble(m.group(2));
            }
        }
        return sum;
    }

    @Test
    void aForcedOutOfMemoryErrorEndsTheProcessAndARestartWorks() throws Exception {
        // The budget set far above a 48 MiB heap and the first-call deadline far off (bad probes earn nothing): the
        // guards are off, so the flood must end in an OutOfMemoryError, however slowly a loaded machine floods.
        try (DaemonProcess d = daemon(List.of("-Xmx48m"), List.of(), "--memory-budget", "4096", "--first-call-timeout", "3600")) {
            for (int i = 0; i < 120 && d.process.isAlive(); i++) {
                try {
                    flooder(d.frontEndPort);
                } catch (IOException e) {
                    break;
                }
            }
            assertTrue(d.process.waitFor(120, TimeUnit.SECONDS), "the daemon ended");
            assertEquals(3, d.process.exitValue(), d.log());
            assertTrue(d.log().contains("Terminating due to java.lang.OutOfMemoryError"), d.log());
            report("forced OutOfMemoryError (-Xmx48m, budget 4 GiB, 120 non-reading clients): exit status 3, no zombie");
        }
        stop.set(true);
        for (Socket s : sockets) {
            s.close();
        }
        try (DaemonProcess again = daemon(HEAP, List.of())) {
            goodClient(again.frontEndPort);
            assertEquals(0, again.terminate(STOP_SECONDS));
        }
    }

    @Test
    void sighupWhileStartingIsAppliedAndSigtermEndsItUnderLoad() throws Exception {
        Path dir = tmp.resolve("d");
        Process p = DaemonProcess.launch(dir, HEAP, List.of(), args().toArray(new String[0]));
        try {
            Await.until(() -> {
                try {
                    return Files.readString(dir.resolve("daemon.log")).contains("starting (pid");
                } catch (IOException e) {
                    return false;
                }
            }, "the daemon to begin starting", 60);
            assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(p.pid())).status());
            DaemonProcess d = DaemonProcess.serving(p, dir);
            Await.until(() -> d.log().contains("reloaded the server certificate and key"), "the SIGHUP applied: " + d.log(), 30);
            assertTrue(p.isAlive(), d.log());
            for (int i = 0; i < 10; i++) {
                flooder(d.frontEndPort);
            }
            goodClient(d.frontEndPort);
            long t0 = System.nanoTime();
            assertEquals(0, d.terminate(10), "SIGTERM under load: " + d.log());
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            report(String.format("SIGHUP while starting: applied once ready; SIGTERM with 10 flooding clients: exit 0 in %d ms", ms));
            assertFalse(Files.exists(tmp.resolve("pid")), "pidfile removed");
            assertFalse(Files.exists(tmp.resolve("rpctlssd.sock")), "socket removed");
        } finally {
            p.destroyForcibly();
        }
    }
}
