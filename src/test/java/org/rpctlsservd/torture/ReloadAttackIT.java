package org.rpctlsservd.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.junit.jupiter.api.AfterEach;
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
 * Issue 16, attacks 6 and 11, against the packaged daemon through its launcher. Attack 6: the
 * --config file is rewritten in place over and over (empty, cut at every kind of place) with a
 * SIGHUP after each write, while an off-list certificate and an allowed one make calls under
 * --require cert: not one of the off-list client's calls may be relayed, and the allowed client
 * must be served throughout. Attack 11: started under nohup (SIGHUP ignored by the parent), a
 * SIGHUP must still reload.
 */
class ReloadAttackIT {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final TestPki.Ca ca = TestPki.ca("Reload attack CA");
    static final TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
    static final TestPki.Issued alice = ca.leaf("alice").dns("alice.example.org").issue();
    static final TestPki.Issued mallory = ca.leaf("mallory").dns("mallory.example.org").issue();

    @TempDir
    Path tmp;
    EchoBackend backend;
    private final ExecutorService clients = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "reload-attack-client");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean stop = new AtomicBoolean();

    @BeforeEach
    void setUp() throws IOException {
        backend = new EchoBackend();
        TestPki.writeServer(tmp.resolve("server"), server);
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
    }

    @AfterEach
    void tearDown() throws Exception {
        stop.set(true);
        clients.shutdownNow();
        clients.awaitTermination(10, TimeUnit.SECONDS);
        backend.close();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The whole configuration, in the file: alice (and a second name, so that cuts can narrow the list) allowed. */
    private String goodFile(int metricsPort) {
        return "debuglevel\nmutualverf\nverifylocs = " + tmp.resolve("ca.pem") + "\ncertdir = " + tmp.resolve("server")
                + "\npidfile = " + tmp.resolve("pid") + "\nrpc-socket = " + tmp.resolve("rpctlssd.sock") + "\nno-rpcbind\n"
                + "listen = 127.0.0.1:0\nbackend = 127.0.0.1:" + backend.port() + "\nmetrics = 127.0.0.1:" + metricsPort + "\n"
                + "require = cert\nallow-san = alice.example.org\nallow-subject = O=rpc-tlsservd tests,CN=carol\n";
    }

    /** Renamed into place, complete, as the documentation says to. */
    private void replace(Path conf, String text) throws IOException {
        Path part = Files.writeString(tmp.resolve("rpc-tlsservd.conf.new"), text);
        Files.move(part, conf, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** One RFC 9289 client with a certificate: probe, TLS 1.3, one WHOAMI; 0 when relayed, else the auth status, -1 on error. */
    static int call(int port, SSLContext tls) {
        try (Socket s = RawRpc.connect(port)) {
            s.setSoTimeout(20_000);
            SSLSocket ssl = FrontEndHarness.startTls(s, port, tls, x -> { });
            RawRpc r = new RawRpc(ssl);
            r.send(FrontEndHarness.whoami(2, FrontEndHarness.authSys(1000, 1000)).bytes());
            RawRpc.Reply reply = r.read();
            return reply.stat == 0 ? 0 : reply.authStat;
        } catch (Exception e) {
            return -1;
        }
    }

    private static double metric(int port, String series) throws Exception {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        return body.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
                .findFirst().orElseThrow(() -> new AssertionError("no " + series));
    }

    private static double reloads(int port) throws Exception {
        return metric(port, "rpctlssd_reloads_total{result=\"ok\"}") + metric(port, "rpctlssd_reloads_total{result=\"failed\"}");
    }

    /** SIGHUP, and the reload it causes, done to the end (the metric counts it last). */
    private static void sighup(DaemonProcess d, int metricsPort) throws Exception {
        double before = reloads(metricsPort);
        assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(d.pid())).status());
        Await.until(() -> {
            try {
                return reloads(metricsPort) > before;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }, "the reload", 30);
    }

    /** Calls in a loop until stopped: {relayed, refused with AUTH_TOOWEAK, anything else}. */
    private Future<int[]> caller(int port, SSLContext tls) {
        return clients.submit(() -> {
            int[] n = new int[3];
            while (!stop.get()) {
                int r = call(port, tls);
                n[r == 0 ? 0 : r == OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK ? 1 : 2]++;
            }
            return n;
        });
    }

    @Test
    void tornAndEmptyConfigReloadsNeverLetAnOffListCertificateThrough() throws Exception {
        int metricsPort = freePort();
        String good = goodFile(metricsPort);
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        replace(conf, good);
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), HostileLoadIT.HEAP, List.of(), "--config", conf.toString())) {
            SSLContext aliceTls = TlsHarness.jdkClient(alice, ca, "TLSv1.3");
            SSLContext malloryTls = TlsHarness.jdkClient(mallory, ca, "TLSv1.3");
            assertEquals(0, call(d.frontEndPort, aliceTls), d.log());
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, call(d.frontEndPort, malloryTls));
            double failed0 = metric(metricsPort, "rpctlssd_reloads_total{result=\"failed\"}");

            // The cuts: the empty file, inside each allow value ("allow-san = al"), at each line's end, then anywhere.
            List<Integer> cuts = new ArrayList<>(List.of(0));
            for (String v : new String[] {"alice.example.org", "CN=carol"}) {
                cuts.add(good.indexOf(v) + 2);
            }
            for (int i = good.indexOf('\n'); i >= 0; i = good.indexOf('\n', i + 1)) {
                cuts.add(i + 1);
            }
            Future<int[]> aliceCalls = caller(d.frontEndPort, aliceTls);
            Future<int[]> malloryCalls = caller(d.frontEndPort, malloryTls);
            Random random = new Random(16);
            int reloads = 0;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(HostileLoadIT.SECONDS);
            do {
                int cut = reloads < cuts.size() ? cuts.get(reloads) : random.nextInt(good.length() + 1);
                Files.writeString(conf, good.substring(0, cut)); // in place, as an editor or a careless script would
                sighup(d, metricsPort);
                reloads++;
            } while (System.nanoTime() < end || reloads < cuts.size());
            stop.set(true);
            int[] a = aliceCalls.get(60, TimeUnit.SECONDS);
            int[] m = malloryCalls.get(60, TimeUnit.SECONDS);
            double refused = metric(metricsPort, "rpctlssd_reloads_total{result=\"failed\"}") - failed0;
            assertTrue(d.process.isAlive(), d.log());
            HostileLoadIT.report(String.format("torn config reloads (in-place rewrites cut at %d places, SIGHUP after each), %d s: "
                    + "%d reloads, %.0f refused; off-list client: %d calls relayed of %d (%d refused, %d errors); "
                    + "allowed client: %d served of %d", cuts.size(), HostileLoadIT.SECONDS, reloads, refused, m[0], m[0] + m[1] + m[2],
                    m[1], m[2], a[0], a[0] + a[1] + a[2]));
            assertEquals(0, m[0], "not one call of the off-list client relayed");
            assertTrue(m[1] > 0, "the off-list client kept trying");
            assertTrue(a[0] > 0 && a[1] == 0 && a[2] == 0, "the allowed client served throughout: " + a[0] + " served, "
                    + a[1] + " refused, " + a[2] + " errors");
            assertTrue(refused > 0 && refused < reloads, "torn files refused, whole ones (cut after the last line) applied: " + refused);

            // A complete file renamed into place still reloads: mallory let in.
            replace(conf, good.replace("alice.example.org", "mallory.example.org"));
            sighup(d, metricsPort);
            assertEquals(0, call(d.frontEndPort, malloryTls), d.log());
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, call(d.frontEndPort, aliceTls));
        }
    }

    @Test
    void aClientTheReloadRemovesIsCutOffAtOnceAndNothingItSendsAfterReachesTheBackend() throws Exception {
        int metricsPort = freePort();
        String good = goodFile(metricsPort);
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        replace(conf, good);
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), HostileLoadIT.HEAP, List.of(), "--config", conf.toString())) {
            SSLContext aliceTls = TlsHarness.jdkClient(alice, ca, "TLSv1.3");
            Socket s = RawRpc.connect(d.frontEndPort);
            s.setSoTimeout(20_000);
            RawRpc a = new RawRpc(FrontEndHarness.startTls(s, d.frontEndPort, aliceTls, x -> { }));
            a.send(FrontEndHarness.whoami(1, FrontEndHarness.authSys(1000, 1000)).bytes());
            assertEquals(0, a.read().stat, d.log());
            // Alice streams calls (never reading, as a pipelining client may) while her certificate is taken off the list.
            java.util.concurrent.atomic.AtomicInteger nextXid = new java.util.concurrent.atomic.AtomicInteger(2);
            java.util.concurrent.atomic.AtomicInteger xidAtCut = new java.util.concurrent.atomic.AtomicInteger(Integer.MAX_VALUE);
            Future<Integer> stream = clients.submit(() -> {
                int sent = 0;
                try {
                    while (!stop.get()) {
                        a.send(FrontEndHarness.whoami(nextXid.getAndIncrement(), FrontEndHarness.authSys(1000, 1000)).bytes());
                        sent++;
                    }
                } catch (IOException closed) {
                    // the front end closed her connection
                }
                return sent;
            });
            Await.until(() -> nextXid.get() > 1000, "alice streaming", 30);
            replace(conf, good.replace("alice.example.org", "mallory.example.org"));
            assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(d.pid())).status());
            Await.until(() -> d.log().contains("Certificate no longer allowed issuerName="), "alice's session shut off", 30);
            long cutAt = System.nanoTime();
            xidAtCut.set(nextXid.get()); // every call from here on was sent after the shut-off
            int sent = stream.get(30, TimeUnit.SECONDS); // her writes fail once the front end closed the connection
            long closedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutAt);
            boolean readClosed;
            try {
                while (true) {
                    a.read(); // replies to calls relayed before the cut may come first
                }
            } catch (IOException eofOrReset) {
                readClosed = true;
            }
            int relayedAfter = Math.max(0, backend.highestXid.get() - xidAtCut.get() + 1);
            HostileLoadIT.report(String.format("a client the reload removed while streaming calls: %d calls sent, %d of those sent after the "
                    + "shut-off reached the backend; her writes failed %d ms after it; closed for reading too: %b", sent, relayedAfter,
                    closedMs, readClosed));
            assertEquals(0, relayedAfter, "a call alice sent after the shut-off reached the backend (highest xid "
                    + backend.highestXid.get() + ", first after the cut " + xidAtCut.get() + ")");
            assertTrue(readClosed);
            assertTrue(closedMs < 10_000, "cut off after " + closedMs + " ms");
            assertTrue(d.process.isAlive(), d.log());
        }
    }

    @Test
    void sighupUnderAParentThatIgnoresItStillReloadsThroughTheLauncher() throws Exception {
        int metricsPort = freePort();
        String good = goodFile(metricsPort);
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        replace(conf, good);
        // nohup: SIGHUP set to SIG_IGN, then the launcher exec'd, as "nohup rpc.tlsservd ... &" does
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), HostileLoadIT.HEAP, List.of("nohup"), "--config", conf.toString())) {
            SSLContext malloryTls = TlsHarness.jdkClient(mallory, ca, "TLSv1.3");
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, call(d.frontEndPort, malloryTls));
            replace(conf, good.replace("alice.example.org", "mallory.example.org"));
            long t0 = System.nanoTime();
            sighup(d, metricsPort);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            int after = call(d.frontEndPort, malloryTls);
            String status = Files.readString(Path.of("/proc/" + d.pid() + "/status"), StandardCharsets.US_ASCII);
            String ignored = status.lines().filter(l -> l.startsWith("SigIgn:")).findFirst().orElse("?");
            HostileLoadIT.report(String.format("SIGHUP under nohup, through the launcher: reload applied in %d ms, the new list in force "
                    + "(mallory %s); daemon's %s; warning logged: %b", ms, after == 0 ? "served" : "refused", ignored,
                    d.log().contains("SIGHUP was ignored")));
            assertEquals(0, after, "the reloaded list is in force: " + d.log());
            assertFalse(d.log().contains("SIGHUP was ignored"), d.log());
            assertTrue(d.process.isAlive());
        }
    }
}
