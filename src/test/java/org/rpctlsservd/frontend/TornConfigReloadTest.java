package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.acplt.oncrpc.OncRpcAuthStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * Reloads fail safe (issue 16 point 4, attack 6): a --config file caught half-written (cut inside a
 * value, empty, cut before its allow-list), or one that changes an option only a restart applies,
 * is refused whole on SIGHUP: the allow-list in force stays (alice served, bob refused under
 * --require cert), one log line, one failed reload counted. A complete file renamed into place reloads.
 */
class TornConfigReloadTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Torn CA");
    static final TestPki.Ca ca = FX.ca;
    static final TestPki.Issued alice = ca.leaf("alice").dns("alice.example.org").issue();
    static final TestPki.Issued bob = ca.leaf("bob").dns("bob.example.org").issue();
    private static final String REFUSED = "reload: refused the configuration, keeping the old allow-lists and options: ";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    private String head() throws IOException {
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        return "mutualverf\nverifylocs = " + tmp.resolve("ca.pem") + "\nrequire = cert\n";
    }

    /** As an administrator should: a complete file written beside it, then renamed over it. */
    private void replace(Path conf, String text) throws IOException {
        Path part = Files.writeString(tmp.resolve("rpc-tlsservd.conf.new"), text);
        Files.move(part, conf, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static int whoami(FrontEndHarness h, TestPki.Issued who, int xid) throws Exception {
        RawRpc c = h.tls(TlsHarness.jdkClient(who, ca, "TLSv1.3"));
        RawRpc.Reply r = AllowListFrontEndTest.whoami(c, xid);
        return r.stat == 0 ? 0 : r.authStat;
    }

    private static double failedReloadsMetric(FrontEndHarness h) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + h.daemon.metrics().port() + "/metrics");
        String body = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        String series = "rpctlssd_reloads_total{result=\"failed\"} ";
        return body.lines().filter(l -> l.startsWith(series)).mapToDouble(l -> Double.parseDouble(l.substring(series.length())))
                .findFirst().orElseThrow(() -> new AssertionError("no " + series + " in " + body));
    }

    /** SIGHUP's reload, waited for. */
    private static void reload(FrontEndHarness h) {
        int before = h.daemon.reloads();
        h.daemon.reload();
        Await.until(() -> h.daemon.reloads() > before, "the reload");
    }

    @Test
    void tornEmptyOrRestartOnlyFilesAreRefusedWholeAndARenamedOneReloads() throws Exception {
        Path conf = tmp.resolve("rpc-tlsservd.conf");
        String head = head();
        replace(conf, head + "allow-san = alice.example.org\n");
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--config", conf.toString(), "--metrics", "127.0.0.1:0")) {
            Cli cli = new Cli("rpc.tlsservd", Math.max(2, Runtime.getRuntime().availableProcessors()), "nfs.example.org", n -> null);
            h.daemon.rereadConfigWith(() -> cli.parse(h.args.toArray(new String[0])));
            assertEquals(0, whoami(h, alice, 1), "alice is on the list");
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, whoami(h, bob, 2), "bob is not");
            RawRpc aliceLive = h.tls(TlsHarness.jdkClient(alice, ca, "TLSv1.3"));

            List<String[]> torn = List.of(
                    new String[] {"cut inside a value", head + "allow-san = alice.example.org\nallow-subject = O=*,CN=al",
                        "config file does not end in a newline"},
                    new String[] {"empty", "", "config file is empty"},
                    new String[] {"cut before its allow-list", head, "it drops the allow-subject/allow-san list in force"},
                    new String[] {"a restart-only option changed", head + "idle-timeout = 100\nallow-san = bob.example.org\n",
                        "it changes idle-timeout, which only a restart applies"});
            int xid = 10;
            for (String[] t : torn) {
                Files.writeString(conf, t[1]); // in place: what a reader sees of a file being written
                int failed = h.daemon.failedReloads();
                double failedMetric = failedReloadsMetric(h);
                long linesBefore = log.lines().stream().filter(l -> l.startsWith(REFUSED)).count();
                reload(h);
                assertEquals(failed + 1, h.daemon.failedReloads(), t[0] + ": a failed reload");
                assertEquals(failedMetric + 1, failedReloadsMetric(h), t[0] + ": counted in rpctlssd_reloads_total{result=\"failed\"}");
                List<String> refusals = log.lines().stream().filter(l -> l.startsWith(REFUSED)).toList();
                assertEquals(linesBefore + 1, refusals.size(), t[0] + ": one line: " + refusals);
                assertTrue(refusals.get(refusals.size() - 1).contains(t[2]), t[0] + ": " + refusals.get(refusals.size() - 1));
                assertEquals(0, whoami(h, alice, xid++), t[0] + ": alice stays allowed");
                assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, whoami(h, bob, xid++), t[0] + ": bob stays refused");
                assertEquals(0, AllowListFrontEndTest.whoami(aliceLive, xid++).stat, t[0] + ": alice's session lives on");
            }
            assertTrue(log.lines().stream().noneMatch(l -> l.startsWith("reloaded the allow-lists")), log.lines().toString());

            // The same change as a complete file renamed into place: applied.
            int failed = h.daemon.failedReloads();
            replace(conf, head + "allow-san = bob.example.org\n");
            reload(h);
            assertEquals(failed, h.daemon.failedReloads(), "a good reload");
            assertTrue(log.has("reloaded the allow-lists: subjects [], names [bob.example.org]"), log.lines().toString());
            assertEquals(0, whoami(h, bob, xid++), "bob, on the new list, is served");
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, whoami(h, alice, xid++), "alice, off it, is refused");
        }
    }
}
