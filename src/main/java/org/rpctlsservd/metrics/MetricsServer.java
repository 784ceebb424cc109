package org.rpctlsservd.metrics;

import com.sun.net.httpserver.HttpExchange;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * {@code --metrics ADDR:PORT}: the Prometheus text format on {@code /metrics}, and {@code /ready},
 * which answers 200 only between {@link #ready()} and {@link #close()} (the service registered,
 * the front end listening), else 503. The gauges read the daemon's live state when scraped, so
 * they cost nothing between scrapes.
 */
public final class MetricsServer implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    public static final String READY_PATH = "/ready";

    /** What the gauges read, from the daemon that owns this server. */
    public interface Sources {
        /** CONNECT calls waiting for a worker. */
        int connectQueue();

        /** Workers running a handshake step now. */
        int workersBusy();

        /** Sessions in the table. */
        int sessions();

        /** Front-end connections before TLS (plain, or handshaking) and with TLS; {0, 0} without a front end. */
        int[] frontEndConnections();

        /** The server certificate's notAfter, in epoch seconds. */
        Optional<Long> certificateExpiry();

        /** The earliest nextUpdate of the CRLs, in epoch seconds, when -r is used. */
        Optional<Long> crlNextUpdate();
    }

    private final HTTPServer http;
    private final ThreadPoolExecutor executor;
    private volatile boolean ready;

    private MetricsServer(HTTPServer http, ThreadPoolExecutor executor) {
        this.http = http;
        this.executor = executor;
    }

    /**
     * Bounds for the JDK's HTTP server, read when its first server is made (an administrator's own
     * -D settings win): a request and its answer must be done in 10 s, and (Java 18 and later read
     * this one) at most 64 connections at once, so a scraper that stalls or floods holds little.
     */
    private static void boundTheHttpServer() {
        for (String[] p : new String[][] {{"sun.net.httpserver.maxReqTime", "10"}, {"sun.net.httpserver.maxRspTime", "10"},
            {"sun.net.httpserver.maxConnections", "64"}}) {
            if (System.getProperty(p[0]) == null) {
                System.setProperty(p[0], p[1]);
            }
        }
    }

    /** Binds {@code address} and serves; not ready until {@link #ready()}. */
    public static MetricsServer start(InetSocketAddress address, Sources sources) throws IOException {
        boundTheHttpServer();
        PrometheusRegistry registry = new PrometheusRegistry();
        Metrics.registerCounters(registry);
        registry.register(gauge("rpctlssd_connect_queue", "CONNECT calls waiting for a handshake worker", sources::connectQueue));
        registry.register(gauge("rpctlssd_workers_busy", "Handshake workers running a handshake step", sources::workersBusy));
        registry.register(gauge("rpctlssd_sessions", "TLS sessions in the session table", sources::sessions));
        registry.register(GaugeWithCallback.builder().name("rpctlssd_frontend_connections")
                .help("Front-end client connections: plain (before TLS or during the handshake) and tls").labelNames("state")
                .callback(cb -> {
                    int[] n = sources.frontEndConnections();
                    cb.call(n[0], "plain");
                    cb.call(n[1], "tls");
                }).build());
        registry.register(optionalGauge("rpctlssd_server_certificate_expiry_timestamp_seconds",
                "When the server certificate in use expires (notAfter), Unix time", sources::certificateExpiry));
        registry.register(optionalGauge("rpctlssd_crl_next_update_timestamp_seconds",
                "The earliest nextUpdate of the loaded CRLs, Unix time (absent without -r)", sources::crlNextUpdate));
        // Scrapes are few and short: two threads, a small queue, and past it the accepting thread serves.
        AtomicInteger serial = new AtomicInteger();
        ThreadPoolExecutor executor = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(16), r -> {
            Thread t = new Thread(r, "metrics-http-" + serial.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy());
        executor.allowCoreThreadTimeOut(true);
        MetricsServer[] self = new MetricsServer[1];
        HTTPServer http;
        try {
            http = HTTPServer.builder().inetAddress(address.getAddress()).port(address.getPort()).registry(registry)
                    .executorService(executor).defaultHandler(ex -> self[0].other(ex)).buildAndStart();
        } catch (IOException | RuntimeException e) {
            executor.shutdownNow();
            throw new IOException("metrics: cannot listen on " + address + ": " + e.getMessage(), e);
        }
        self[0] = new MetricsServer(http, executor);
        LOG.info("metrics: Prometheus /metrics and " + READY_PATH + " on " + address.getAddress().getHostAddress() + ":" + http.getPort()
                + (address.getAddress().isLoopbackAddress() ? "" : " (not a loopback address: anyone who can reach it reads the metrics)"));
        return self[0];
    }

    private static GaugeWithCallback gauge(String name, String help, IntSupplier value) {
        return GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsInt())).build();
    }

    private static GaugeWithCallback optionalGauge(String name, String help, Supplier<Optional<Long>> value) {
        return GaugeWithCallback.builder().name(name).help(help).callback(cb -> value.get().ifPresent(v -> cb.call(v))).build();
    }

    /** Every path but /metrics: the readiness answer, or 404. */
    private void other(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (path.equals(READY_PATH)) {
                boolean r = ready;
                answer(ex, r ? 200 : 503, r ? "ready\n" : "not ready\n");
            } else {
                answer(ex, 404, "not found; try /metrics or " + READY_PATH + "\n");
            }
        }
    }

    private static void answer(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.US_ASCII);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=us-ascii");
        ex.sendResponseHeaders(status, ex.getRequestMethod().equals("HEAD") ? -1 : b.length);
        if (!ex.getRequestMethod().equals("HEAD")) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        }
    }

    /** The port it listens on (the real one when 0 was asked for). */
    public int port() {
        return http.getPort();
    }

    /** From now on /ready answers 200. */
    public void ready() {
        ready = true;
    }

    /** /ready answers 503 again (stopping). */
    public void notReady() {
        ready = false;
    }

    @Override
    public void close() {
        ready = false;
        http.close();
        executor.shutdownNow();
    }
}
