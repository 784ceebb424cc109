package org.rpctlsservd.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.guard.Timers;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;

/**
 * The metrics port under hostile clients (issue 16): slow writers and readers, more idle
 * connections than the cap, clients that reset, other methods and near-miss paths; always over
 * real loopback sockets against a real {@link MetricsServer}.
 */
class MetricsPortTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The gauges' inputs: a daemon at rest. */
    private static final MetricsServer.Sources AT_REST = new MetricsServer.Sources() {
        @Override
        public String version() {
            return "0-test";
        }

        @Override
        public int backendGraceSeconds() {
            return 5;
        }

        @Override
        public int connectQueue() {
            return 0;
        }

        @Override
        public int workersBusy() {
            return 0;
        }

        @Override
        public int sessions() {
            return 0;
        }

        @Override
        public int[] frontEndConnections() {
            return new int[2];
        }

        @Override
        public Optional<Long> certificateExpiry() {
            return Optional.of(2_000_000_000L);
        }

        @Override
        public Optional<Long> crlNextUpdate() {
            return Optional.empty();
        }
    };

    private ScheduledExecutorService timer;
    private MetricsServer server;
    private final List<AutoCloseable> held = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        timer = Timers.single("metrics-test-timer");
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), AT_REST, timer);
        server.ready();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : held) {
            c.close();
        }
        server.close();
        timer.shutdownNow();
        assertTrue(timer.awaitTermination(10, TimeUnit.SECONDS));
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return HTTP.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder at(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
    }

    private Socket connect() throws IOException {
        Socket s = new Socket();
        held.add(s);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    /** One request on a connection of its own, as a balancer's check makes it: the answer's status line and the time it took, in ms. */
    private long[] check(String path) throws IOException {
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            int status = Integer.parseInt(answer.substring(9, 12));
            return new long[] {status, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)};
        }
    }

    @Test
    void slowWritersAndSlowReadersDoNotDelayReadyForOthers() throws Exception {
        // Fewer slow-loris clients than the cap (nobody is pushed out: they really are all held),
        // and clients that ask for /metrics and never read the answer.
        byte[] request = "GET /ready HTTP/1.1\r\nHost: x\r\nUser-Agent: a-very-slow-client\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        List<OutputStream> lorises = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            lorises.add(connect().getOutputStream());
        }
        for (int i = 0; i < 4; i++) {
            Socket s = new Socket();
            held.add(s);
            s.setReceiveBufferSize(1024);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 5000);
            s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(50).getBytes(StandardCharsets.US_ASCII));
        }
        AtomicInteger sent = new AtomicInteger();
        ScheduledExecutorService dripper = Executors.newSingleThreadScheduledExecutor();
        ScheduledFuture<?> drip = dripper.scheduleAtFixedRate(() -> {
            int i = sent.get();
            if (i < request.length - 2) { // never the last bytes: the head never ends
                for (OutputStream o : lorises) {
                    try {
                        o.write(request[i]);
                    } catch (IOException e) {
                        // closed by the server: that is its right
                    }
                }
                sent.incrementAndGet();
            }
        }, 0, 100, TimeUnit.MILLISECONDS);
        try {
            long worst = 0;
            int checks = 0;
            while (sent.get() < 20) { // two seconds of dripping, and checks all along
                long[] r = check("/ready");
                assertEquals(200, r[0]);
                worst = Math.max(worst, r[1]);
                checks++;
            }
            assertTrue(checks >= 20, checks + " checks");
            assertTrue(worst < 1000, "/ready answered within " + worst + " ms while 40 clients dripped heads and 4 never read");
        } finally {
            drip.cancel(false);
            dripper.shutdownNow();
        }
    }

    @Test
    void theConnectionCapIsApplied() throws Exception {
        int n = 3 * MetricsHttp.MAX_CONNECTIONS;
        List<SocketChannel> idle = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SocketChannel c = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()));
            c.configureBlocking(false);
            held.add(c);
            idle.add(c);
        }
        Await.until(() -> stillOpen(idle) <= MetricsHttp.MAX_CONNECTIONS, "the server to keep at most " + MetricsHttp.MAX_CONNECTIONS
                + " of " + n + " idle connections (now " + stillOpen(idle) + ")");
        long[] r = check("/ready");
        assertEquals(200, r[0], "a good check is served past the cap");
        int open = stillOpen(idle);
        assertTrue(open >= MetricsHttp.MAX_CONNECTIONS - 2 && open <= MetricsHttp.MAX_CONNECTIONS,
                open + " of " + n + " idle connections open: the cap, less the check's");
        // the ones kept are the newest: the first ones were closed
        assertTrue(closed(idle.get(0)), "the longest idle went first");
    }

    private static boolean closed(SocketChannel c) {
        try {
            return c.read(ByteBuffer.allocate(16)) < 0;
        } catch (IOException e) {
            return true; // reset
        }
    }

    private static int stillOpen(List<SocketChannel> cs) {
        int open = 0;
        for (SocketChannel c : cs) {
            if (!closed(c)) {
                open++;
            }
        }
        return open;
    }

    @Test
    void onlyGetAndHead() throws Exception {
        HttpResponse<String> post = send(at("/metrics").POST(HttpRequest.BodyPublishers.ofString("x=1")));
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
        assertEquals(405, send(at("/ready").method("DELETE", HttpRequest.BodyPublishers.noBody())).statusCode());
        HttpResponse<String> head = send(at("/ready").method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        // series that stay put between two requests (the JVM's and the process's move with every one)
        String stable = "/metrics?name[]=rpctlssd_sessions&name[]=rpctlssd_build_info";
        HttpResponse<String> metricsHead = send(at(stable).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, metricsHead.statusCode());
        long length = metricsHead.headers().firstValueAsLong("Content-Length").orElse(-1);
        assertEquals(send(at(stable)).body().length(), length, "HEAD tells the length a GET gets");
    }

    @Test
    void pathsAreExact() throws Exception {
        for (String p : List.of("/metricsX", "/metrics/", "/metrics/x", "/ready/x", "/readyz", "/", "/-/healthyx")) {
            assertEquals(404, send(at(p)).statusCode(), p);
        }
        assertEquals("ready\n", send(at("/ready")).body());
        assertEquals("ready\n", send(at("/ready?x=1")).body(), "a query is not part of the path");
        String text = send(at("/metrics")).body();
        assertTrue(text.contains("rpctlssd_server_certificate_expiry_timestamp_seconds 2.0E9"), text);
        String filtered = send(at("/metrics?name[]=rpctlssd_sessions")).body();
        assertTrue(filtered.contains("rpctlssd_sessions 0") && !filtered.contains("rpctlssd_connect_queue"), filtered);
        assertEquals("Exporter is healthy.\n", send(at("/-/healthy")).body());
        server.notReady();
        assertEquals(503, send(at("/ready")).statusCode());
    }

    @Test
    void pipelinedRequestsAreAnsweredInTurnAndAnOversizedHeadIsRefused() throws Exception {
        Socket s = connect();
        s.getOutputStream().write("GET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        String both = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(both.startsWith("HTTP/1.1 200 OK\r\n") && both.contains("ready\nHTTP/1.1 404 Not Found\r\n"), both);

        Socket big = connect();
        big.getOutputStream().write(("GET /ready HTTP/1.1\r\nX: " + "a".repeat(MetricsHttp.MAX_HEAD) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        String refused = new String(big.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(refused.startsWith("HTTP/1.1 431 "), refused);
    }

    @Test
    void aStalledHeadIsClosedAtItsDeadline() throws Exception {
        Socket s = connect();
        s.setSoTimeout(30_000);
        s.getOutputStream().write("GET /ready HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        long t0 = System.nanoTime();
        InputStream in = s.getInputStream();
        assertEquals(-1, in.read(), "half a request is given up");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= MetricsHttp.REQUEST_MILLIS - 1000 && ms < MetricsHttp.REQUEST_MILLIS + 3000, "closed after " + ms + " ms");
    }

    @Test
    void scrapesResetBeforeTheAnswerLogAtMostARateLimitedLine() throws Exception {
        List<LogRecord> lines;
        try (LogCapture all = new LogCapture("")) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            int resets = 0;
            while (System.nanoTime() < end) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 5000);
                    s.setSoLinger(true, 0); // close is a reset
                    s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                resets++;
            }
            assertEquals(200, check("/ready")[0], "still serving after " + resets + " resets");
            lines = all.records().stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue()
                    || r.getLoggerName() != null && r.getLoggerName().startsWith("rpctlssd")).toList();
            // FINE, once per kind per 10 s: "a client went away"
            assertTrue(lines.size() <= 2, lines.size() + " lines after " + resets + " resets: "
                    + lines.stream().map(LogRecord::getMessage).toList());
            assertTrue(resets > 100, resets + " resets");
        }
        assertTrue(lines.stream().allMatch(r -> r.getLevel().intValue() < Level.INFO.intValue()), "none shown without -v");
    }
}
