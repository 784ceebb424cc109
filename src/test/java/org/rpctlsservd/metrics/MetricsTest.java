package org.rpctlsservd.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestDaemons;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * --metrics: the Prometheus text on /metrics and /ready, fetched over HTTP as a scraper would,
 * changing with real handshakes, relayed calls and refusals through the front end.
 */
class MetricsTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Metrics CA");
    static final TestPki.Ca ca = FX.ca;
    static final TestPki.Issued client = FX.client;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    private FrontEndHarness fe(String... args) throws Exception {
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        String[] all = new String[args.length + 6];
        System.arraycopy(new String[] {"--metrics", "127.0.0.1:0", "-m", "-l", tmp.resolve("ca.pem").toString(), "--require"}, 0, all, 0, 6);
        System.arraycopy(args, 0, all, 6, args.length);
        return FX.frontEnd(tmp, all);
    }

    static HttpResponse<String> get(FrontEndHarness h, String path) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + h.daemon.metrics().port() + path);
        return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of one sample, e.g. {@code rpctlssd_handshakes_total{reason="none",result="ok"}}; absent: -1. */
    static double sample(String text, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    static double scrape(FrontEndHarness h, String series) {
        HttpResponse<String> r;
        try {
            r = get(h, "/metrics");
        } catch (Exception e) {
            throw new AssertionError("scraping /metrics: " + e, e);
        }
        assertEquals(200, r.statusCode());
        return sample(r.body(), series);
    }

    static final String OK = "rpctlssd_handshakes_total{reason=\"none\",result=\"ok\"}";
    static final String FAILED_TLS = "rpctlssd_handshakes_total{reason=\"tls\",result=\"failed\"}";
    static final String VERIFIED_CERT = "rpctlssd_client_certificates_total{flags=\"0x0b\"}";
    static final String TLS_CONNECTIONS = "rpctlssd_frontend_connections{state=\"tls\"}";
    static final String PLAIN_CONNECTIONS = "rpctlssd_frontend_connections{state=\"plain\"}";
    static final String TOOWEAK = "rpctlssd_rpc_rejects_total{reason=\"auth_tooweak\"}";
    static final String REFUSED_NO_TLS = "rpctlssd_frontend_refused_total{reason=\"no_tls\",record=\"call\"}";
    static final String TO_BACKEND = "rpctlssd_relay_bytes_total{direction=\"to_backend\"}";
    static final String TO_CLIENT = "rpctlssd_relay_bytes_total{direction=\"to_client\"}";
    static final String DURATION_COUNT = "rpctlssd_handshake_duration_seconds_count";
    static final String SYSTEM_ERR = "rpctlssd_rpc_rejects_total{reason=\"system_err\"}";

    @Test
    void aHandshakeAndARelayedCallShowInTheMetrics() throws Exception {
        try (FrontEndHarness h = fe("cert")) {
            assertEquals(200, get(h, "/ready").statusCode());
            assertEquals("ready\n", get(h, "/ready").body());
            assertEquals(404, get(h, "/nothing").statusCode());
            // What Prometheus asks first when native histograms are on: protobuf, not an error.
            HttpResponse<byte[]> proto = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.daemon.metrics().port()
                    + "/metrics")).header("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, proto.statusCode());
            assertTrue(proto.headers().firstValue("Content-Type").orElse("").startsWith("application/vnd.google.protobuf"));
            String before = get(h, "/metrics").body();
            assertTrue(before.contains("# TYPE rpctlssd_handshakes_total counter"), before);
            assertTrue(before.contains("# TYPE rpctlssd_handshake_duration_seconds histogram"), before);
            assertEquals(0, sample(before, TLS_CONNECTIONS));
            assertEquals(0, sample(before, "rpctlssd_sessions"));
            assertEquals(0, sample(before, "rpctlssd_connect_queue"));
            assertEquals(0, sample(before, "rpctlssd_workers_busy"));
            long notAfter = FX.server.cert().getNotAfter().getTime() / 1000;
            assertEquals(notAfter, sample(before, "rpctlssd_server_certificate_expiry_timestamp_seconds"));

            try (RawRpc c = h.tls(TlsHarness.jdkClient(client, ca, "TLSv1.3"))) {
                c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                assertEquals(0, c.read().stat);
                String during = get(h, "/metrics").body();
                assertEquals(sample(before, OK) + 1, sample(during, OK), during);
                assertEquals(Math.max(0, sample(before, VERIFIED_CERT)) + 1, sample(during, VERIFIED_CERT),
                        "a verified client certificate: flags HANDSHAKE|GOTCERT|VERIFIED\n" + during);
                assertEquals(sample(before, DURATION_COUNT) + 1, sample(during, DURATION_COUNT));
                assertEquals(1, sample(during, TLS_CONNECTIONS), during);
                assertEquals(1, sample(during, "rpctlssd_sessions"), during);
                assertTrue(sample(during, TO_BACKEND) > sample(before, TO_BACKEND), during);
                assertTrue(sample(during, TO_CLIENT) > sample(before, TO_CLIENT), during);
            }
            Await.until(() -> scrape(h, TLS_CONNECTIONS) == 0 && scrape(h, "rpctlssd_sessions") == 0,
                    "the closed connection to leave the gauges");
        }
    }

    @Test
    void refusalsAndFailedHandshakesAreCountedByReason() throws Exception {
        try (FrontEndHarness h = fe("tls")) {
            String before = get(h, "/metrics").body();
            try (RawRpc plain = h.plain()) {
                plain.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, plain.read().authStat);
                assertEquals(1, scrape(h, PLAIN_CONNECTIONS));
            }
            assertEquals(sample(before, TOOWEAK) + 1, scrape(h, TOOWEAK), "--require tls refused a call in clear text");
            assertEquals(sample(before, REFUSED_NO_TLS) + 1, scrape(h, REFUSED_NO_TLS), "counted by the front end's reason too");

            // A probe, then garbage where the ClientHello belongs: a failed handshake, reason tls.
            try (Socket s = RawRpc.connect(h.port)) {
                byte[] p = FrontEndHarness.probe(9);
                OutputStream out = s.getOutputStream();
                out.write(java.nio.ByteBuffer.allocate(4 + p.length).putInt(0x80000000 | p.length).put(p).array());
                s.getInputStream().readNBytes(36);
                out.write(new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5});
                out.flush();
                Await.until(() -> scrape(h, FAILED_TLS) == sample(before, FAILED_TLS) + 1, "the failed handshake to be counted");
            }
            // A good client after it: its call is relayed once its own CONNECT was answered, long after the
            // failed one's SYSTEM_ERR (sent by the thread that counted the failure, right after counting it).
            try (RawRpc c = h.tls(TlsHarness.jdkClient(client, ca, "TLSv1.3"))) {
                c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                assertEquals(0, c.read().stat);
            }
            String after = get(h, "/metrics").body();
            assertEquals(sample(before, FAILED_TLS) + 1, sample(after, FAILED_TLS), "the failed handshake counted once");
            assertEquals(sample(before, SYSTEM_ERR), sample(after, SYSTEM_ERR),
                    "the CONNECT's SYSTEM_ERR is the failed handshake's report, not an RPC reject of its own\n" + after);
        }
    }

    @Test
    void theConnectorsReadyNamesItsServerByConnect() throws Exception {
        int dead = TestDaemons.freePort();
        var config = new org.rpctlsservd.cli.Cli(org.rpctlsservd.cli.Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org", x -> null)
                .parse(new String[] {"--no-rpcbind", "--rpc-socket", tmp.resolve("cd.sock").toString(), "--metrics", "127.0.0.1:0",
                    "--connect", "127.0.0.1:0,127.0.0.1:" + dead});
        try (org.rpctlsservd.daemon.Daemon d = org.rpctlsservd.daemon.Daemon.startClient(config)) {
            URI ready = URI.create("http://127.0.0.1:" + d.metrics().port() + "/ready");
            Await.until(() -> {
                try {
                    return HTTP.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 503;
                } catch (java.io.IOException | InterruptedException e) {
                    return false;
                }
            }, "/ready to turn unready while the server refuses", 30);
            String body = HTTP.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(body.matches("not ready: backend 127\\.0\\.0\\.1:" + dead + " \\(--connect\\): connection refused for [5-9] s\n"),
                    body);
        }
    }

    @Test
    void readyNamesTheBackendThatRefusesAndRecoversWhenItListens() throws Exception {
        int dead = TestDaemons.freePort();
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        // --listen to a closed port (--backend), and a --relay to a live backend, which must not be named
        try (FrontEndHarness h = new FrontEndHarness(tmp, FX.server, dead, "--metrics", "127.0.0.1:0",
                "--relay", "127.0.0.1:0,127.0.0.1:" + FX.backend().port())) {
            Await.until(() -> status(h, "/ready") == 503, "/ready to turn unready while the backend refuses", 30);
            String body = get(h, "/ready").body();
            assertTrue(body.matches("not ready: backend 127\\.0\\.0\\.1:" + dead + " \\(--backend\\): connection refused for [5-9] s\n"),
                    body);
            String text = get(h, "/metrics").body();
            assertEquals(0, sample(text, "rpctlssd_backend_reachable{backend=\"127.0.0.1:" + dead + "\"}"), text);
            assertEquals(1, sample(text, "rpctlssd_backend_reachable{backend=\"127.0.0.1:" + FX.backend().port() + "\"}"), text);
            try (ServerSocketChannel back = ServerSocketChannel.open()) {
                back.bind(new InetSocketAddress("127.0.0.1", dead)); // a listener is all a TCP connect needs
                Await.until(() -> status(h, "/ready") == 200, "/ready to recover once the backend listens", 30);
                assertEquals("ready\n", get(h, "/ready").body());
                assertEquals(1, scrape(h, "rpctlssd_backend_reachable{backend=\"127.0.0.1:" + dead + "\"}"));
            }
        }
    }

    private static int status(FrontEndHarness h, String path) {
        try {
            return get(h, path).statusCode();
        } catch (Exception e) {
            throw new AssertionError("GET " + path + ": " + e, e);
        }
    }

    @Test
    void processJvmAndVersionSeries() throws Exception {
        try (FrontEndHarness h = fe("none")) {
            // registered on a thread of their own once the daemon is ready
            Await.until(() -> scrape(h, "jvm_memory_used_bytes{area=\"heap\"}") > 0, "the JVM's series");
            String text = get(h, "/metrics").body();
            assertTrue(sample(text, "process_cpu_seconds_total") > 0, text);
            assertTrue(sample(text, "process_open_fds") > 0, text);
            assertTrue(sample(text, "jvm_threads_current") > 0, text);
            String version = System.getProperty("rpctlsservd.version");
            assertEquals(1, sample(text, "rpctlssd_build_info{version=\"" + version + "\"}"), text);
        }
    }

    @Test
    void reloadsAreCountedAndReadinessEndsWithTheDaemon() throws Exception {
        FrontEndHarness h = fe("none");
        try {
            String ok = "rpctlssd_reloads_total{result=\"ok\"}";
            String failed = "rpctlssd_reloads_total{result=\"failed\"}";
            double okBefore = scrape(h, ok);
            double failedBefore = scrape(h, failed);
            h.daemon.reload();
            Await.until(() -> scrape(h, ok) == okBefore + 1, "a good reload to be counted");
            Files.writeString(tmp.resolve("server").resolve("certkey.pem"), "not a key\n");
            h.daemon.reload();
            Await.until(() -> scrape(h, failed) == failedBefore + 1, "a refused reload to be counted");
            assertEquals(okBefore + 1, scrape(h, ok));
        } finally {
            int port = h.daemon.metrics().port();
            h.close();
            // closed: nothing answers any more (a balancer's health check fails)
            URI uri = URI.create("http://127.0.0.1:" + port + "/ready");
            assertTrue(assertThrowsIo(uri), "the metrics server stops with the daemon");
        }
    }

    private static boolean assertThrowsIo(URI uri) {
        try {
            HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            return false;
        } catch (IOException e) {
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void rejectReasonsFollowRfc5531() {
        assertEquals(null, Metrics.rejectReason(0, 0, 0, 0));
        assertEquals("prog_unavail", Metrics.rejectReason(0, 1, 0, 0));
        assertEquals("prog_mismatch", Metrics.rejectReason(0, 2, 0, 0));
        assertEquals("proc_unavail", Metrics.rejectReason(0, 3, 0, 0));
        assertEquals("garbage_args", Metrics.rejectReason(0, 4, 0, 0));
        assertEquals("system_err", Metrics.rejectReason(0, 5, 0, 0));
        assertEquals("rpc_mismatch", Metrics.rejectReason(1, 0, 0, 0));
        assertEquals("auth_badcred", Metrics.rejectReason(1, 0, 1, 1));
        assertEquals("auth_rejectedcred", Metrics.rejectReason(1, 0, 1, 2));
        assertEquals("auth_tooweak", Metrics.rejectReason(1, 0, 1, 5));
    }
}
