package org.rpctlsservd.metrics;

import io.prometheus.metrics.config.PrometheusProperties;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.exporter.common.PrometheusHttpExchange;
import io.prometheus.metrics.exporter.common.PrometheusHttpRequest;
import io.prometheus.metrics.exporter.common.PrometheusHttpResponse;
import io.prometheus.metrics.exporter.common.PrometheusScrapeHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.guard.RateLimitedLog;

/**
 * {@code --metrics ADDR:PORT}: the Prometheus text format on {@code /metrics}, and {@code /ready},
 * which answers 200 only between {@link #ready()} and {@link #close()} (the service registered,
 * the front end listening) while no backend is failing ({@link Sources#unready()}), else 503 with
 * the reason in its body, one line each. The gauges read the daemon's live state when scraped, so
 * they cost nothing between scrapes. Served by {@link MetricsHttp} on one event loop, with a
 * connection cap and deadlines, so that slow or idle clients cannot keep {@code /ready} from others.
 */
public final class MetricsServer implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    private static final RateLimitedLog WARNINGS = new RateLimitedLog(LOG);
    public static final String METRICS_PATH = "/metrics";
    public static final String READY_PATH = "/ready";
    /** Kept from the library's HTTP server, which answered it. */
    public static final String HEALTHY_PATH = "/-/healthy";

    /** What the gauges read, from the daemon that owns this server. */
    public interface Sources {
        /** The daemon's version, for rpctlssd_build_info. */
        String version();

        /** How long every connect to a backend fails before it counts as unreachable, for the gauge's help line. */
        int backendGraceSeconds();

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

        /** What the front-end connections hold now, as charged to the memory budget; 0 without a front end. */
        default long frontEndMemory() {
            return 0;
        }

        /** The memory budget's limit; 0 without a front end. */
        default long frontEndMemoryLimit() {
            return 0;
        }

        /**
         * Why the daemon cannot serve although it started, one reason a line (a backend failing past
         * its grace); empty when it can. Read on the HTTP loop: must not block.
         */
        default List<String> unready() {
            return List.of();
        }

        /** Each backend ({@code ip:port}) and whether it can be reached, as /ready judges it; empty without a front end. */
        default Map<String, Boolean> backends() {
            return Map.of();
        }
    }

    private final MetricsHttp http;
    private final PrometheusScrapeHandler scrape;
    private final Sources sources;
    private final JvmSeries jvm;
    /** 0 starting, 1 started, 2 stopping: what /ready says before it asks the sources. */
    private volatile int phase;

    private MetricsServer(InetSocketAddress address, PrometheusRegistry registry, ScheduledExecutorService timer, Sources sources,
            JvmSeries jvm) throws IOException {
        this.sources = sources;
        this.jvm = jvm;
        // the library's own scrape handler: content negotiation (text, OpenMetrics, protobuf), gzip, name[] filters
        scrape = new PrometheusScrapeHandler(PrometheusProperties.get(), registry);
        http = new MetricsHttp(address, this::route, timer);
    }

    /** Binds {@code address} and serves, its deadlines kept on {@code timer}; not ready until {@link #ready()}. */
    public static MetricsServer start(InetSocketAddress address, Sources sources, ScheduledExecutorService timer) throws IOException {
        PrometheusRegistry registry = new PrometheusRegistry();
        Metrics.registerCounters(registry);
        // process_* (CPU, resident memory, file descriptors, start time) and jvm_* (memory, GC, threads, classes), from ready()
        JvmSeries jvm = new JvmSeries();
        registry.register(jvm);
        Info build = Info.builder().name("rpctlssd_build_info").help("The daemon's version (the value is always 1)")
                .labelNames("version").build();
        build.addLabelValues(sources.version());
        registry.register(build);
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
        registry.register(GaugeWithCallback.builder().name("rpctlssd_frontend_memory_bytes")
                .help("What the front-end connections hold, as charged to the memory budget (--memory-budget)")
                .callback(cb -> cb.call(sources.frontEndMemory())).build());
        registry.register(GaugeWithCallback.builder().name("rpctlssd_frontend_memory_limit_bytes")
                .help("The front end's memory budget: at it, accepting pauses and the largest unfinished holders are closed")
                .callback(cb -> cb.call(sources.frontEndMemoryLimit())).build());
        registry.register(GaugeWithCallback.builder().name("rpctlssd_backend_reachable")
                .help("1 while the backend can be reached; 0 once every connect to it failed for " + sources.backendGraceSeconds()
                        + " s with none succeeding since (then /ready answers 503 and names it)").labelNames("backend")
                .callback(cb -> sources.backends().forEach((b, up) -> cb.call(up ? 1 : 0, b))).build());
        registry.register(optionalGauge("rpctlssd_server_certificate_expiry_timestamp_seconds",
                "When the server certificate in use expires (notAfter), Unix time", sources::certificateExpiry));
        registry.register(optionalGauge("rpctlssd_crl_next_update_timestamp_seconds",
                "The earliest nextUpdate of the loaded CRLs, Unix time (absent without -r)", sources::crlNextUpdate));
        MetricsServer server;
        try {
            server = new MetricsServer(address, registry, timer, sources, jvm);
        } catch (IOException | RuntimeException e) {
            throw new IOException("metrics: cannot listen on " + address + ": " + e.getMessage(), e);
        }
        LOG.info("metrics: Prometheus /metrics and " + READY_PATH + " on " + org.rpctlsservd.guard.LogText.address(new java.net.InetSocketAddress(address.getAddress(), server.port()))
                + (address.getAddress().isLoopbackAddress() ? "" : " (not a loopback address: anyone who can reach it reads the metrics)"));
        return server;
    }

    private static GaugeWithCallback gauge(String name, String help, IntSupplier value) {
        return GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsInt())).build();
    }

    private static GaugeWithCallback optionalGauge(String name, String help, Supplier<Optional<Long>> value) {
        return GaugeWithCallback.builder().name(name).help(help).callback(cb -> value.get().ifPresent(v -> cb.call(v))).build();
    }

    /** Exact paths only: /metricsX and /ready/x are 404, not a prefix's answer. */
    private MetricsHttp.Answer route(MetricsHttp.Request r) {
        switch (r.path()) {
            case METRICS_PATH:
                return scrape(r);
            case READY_PATH:
                return readiness();
            case HEALTHY_PATH: // as the library's HTTPServer answered it
                return new MetricsHttp.Answer(200, Map.of("Content-Type", "text/plain; charset=utf-8"),
                        "Exporter is healthy.\n".getBytes(StandardCharsets.UTF_8));
            default:
                return MetricsHttp.Answer.text(404, "not found; try " + METRICS_PATH + " or " + READY_PATH + "\n");
        }
    }

    /** 200 "ready", or 503 and why: "not ready: starting", "... stopping", or a line per failing backend. */
    private MetricsHttp.Answer readiness() {
        int p = phase;
        if (p != 1) {
            return MetricsHttp.Answer.text(503, p == 0 ? "not ready: starting\n" : "not ready: stopping\n");
        }
        List<String> why = sources.unready();
        if (why.isEmpty()) {
            return MetricsHttp.Answer.text(200, "ready\n");
        }
        StringBuilder b = new StringBuilder();
        for (String w : why) {
            b.append("not ready: ").append(w).append('\n');
        }
        return MetricsHttp.Answer.text(503, b.toString());
    }

    /** The library's scrape, answered into memory: the loop then writes it as the client takes it. */
    private MetricsHttp.Answer scrape(MetricsHttp.Request r) {
        Scrape x = new Scrape(r);
        try {
            scrape.handleRequest(x);
        } catch (IOException e) {
            x.handleException(e); // writing to memory does not fail; a failure is the library's own
        }
        return new MetricsHttp.Answer(x.status, x.headers, x.body.toByteArray());
    }

    /** One scrape as the library sees it: a request read, an answer kept in memory. */
    private static final class Scrape implements PrometheusHttpExchange, PrometheusHttpRequest, PrometheusHttpResponse {
        private final MetricsHttp.Request request;
        final Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        int status = 500;
        private boolean sent;

        Scrape(MetricsHttp.Request request) {
            this.request = request;
        }

        @Override
        public PrometheusHttpRequest getRequest() {
            return this;
        }

        @Override
        public PrometheusHttpResponse getResponse() {
            return this;
        }

        @Override
        public String getQueryString() {
            return request.rawQuery();
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            return Collections.enumeration(request.headers().getOrDefault(name, List.of()));
        }

        /** HEAD is answered as GET, its body left out by the HTTP server: so its Content-Length is the real one. */
        @Override
        public String getMethod() {
            return "GET";
        }

        @Override
        public String getRequestPath() {
            return request.path();
        }

        @Override
        public void setHeader(String name, String value) {
            if (!name.equalsIgnoreCase("Content-Length")) { // the HTTP server sets it from the body
                headers.put(name, value);
            }
        }

        @Override
        public OutputStream sendHeadersAndGetBody(int statusCode, int contentLength) throws IOException {
            if (sent) {
                throw new IOException("a second answer to one scrape");
            }
            sent = true;
            status = statusCode;
            return body;
        }

        @Override
        public void handleException(IOException e) {
            failed(e);
        }

        @Override
        public void handleException(RuntimeException e) {
            failed(e);
        }

        /** A gauge's callback or the library failed: 500, and a rate-limited line, not one per scrape. */
        private void failed(Exception e) {
            WARNINGS.log(Level.SEVERE, "metrics-scrape", () -> "metrics: a scrape failed: " + e);
            LOG.log(Level.FINE, "metrics: the failed scrape", e);
            headers.clear();
            headers.put("Content-Type", "text/plain; charset=us-ascii");
            body.reset();
            body.writeBytes("An internal error occurred while scraping metrics.\n".getBytes(StandardCharsets.US_ASCII));
            status = 500;
            sent = true;
        }

        @Override
        public void close() {
        }
    }

    /** The port it listens on (the real one when 0 was asked for). */
    public int port() {
        return http.port();
    }

    /** From now on /ready answers 200. */
    public void ready() {
        phase = 1;
        jvm.start();
    }

    /** /ready answers 503 again (stopping). */
    public void notReady() {
        phase = 2;
    }

    @Override
    public void close() {
        phase = 2;
        http.close();
    }
}
