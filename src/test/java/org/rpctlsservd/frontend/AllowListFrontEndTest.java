package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Client allow-lists through the front end: a verified certificate off the list counts as not
 * verified (no VERIFIED flag, a log line with the reason), so --require cert refuses it; the
 * lists come again from the --config file on SIGHUP, and a session whose certificate is no
 * longer allowed is shut off.
 */
class AllowListFrontEndTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Allow CA");
    static final TestPki.Ca ca = FX.ca;
    static final TestPki.Issued alice = ca.leaf("alice").dns("alice.example.org").eku("1.3.6.1.5.5.7.3.33").issue();
    static final TestPki.Issued bob = ca.leaf("bob").dns("bob.example.org").issue();

    @TempDir
    Path tmp;

    private Path conf(String allow) throws IOException {
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        Path f = tmp.resolve("rpc-tlsservd.conf");
        Files.writeString(f, "mutualverf\nverifylocs = " + tmp.resolve("ca.pem") + "\nrequire = cert\n" + allow);
        return f;
    }

    /** SIGHUP's work: the options read again from the command line and its file. */
    static void reload(FrontEndHarness h) {
        Cli cli = new Cli("rpc.tlsservd", Math.max(2, Runtime.getRuntime().availableProcessors()), "nfs.example.org", n -> null);
        h.daemon.rereadConfigWith(() -> cli.parse(h.args.toArray(new String[0])));
        h.daemon.reload();
    }

    static RawRpc.Reply whoami(RawRpc c, int xid) throws IOException {
        c.send(FrontEndHarness.whoami(xid, FrontEndHarness.authNone()).bytes());
        return c.read();
    }

    @Test
    void offTheListMeansNotVerifiedAndTheReloadedListCutsSessions() throws Exception {
        Path f = conf("allow-subject = O=*,CN=alice\n");
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--config", f.toString())) {
            RawRpc a = h.tls(TlsHarness.jdkClient(alice, ca, "TLSv1.3"));
            assertEquals(0, whoami(a, 1).stat, "alice is on the list");
            RawRpc b = h.tls(TlsHarness.jdkClient(bob, ca, "TLSv1.3"));
            RawRpc.Reply refused = whoami(b, 2);
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, refused.authStat, "bob verified, but is off the list: --require cert refuses");
            String bobLine = log.find("cert.subject=\"/CN=bob/O=rpc-tlsservd tests\"");
            assertTrue(bobLine.contains(" result=unverified ") && bobLine.contains(" flags=0x03(handshake,gotcert) ")
                    && bobLine.contains("reason=\"certificate verified but not allowed: subject 'O=rpc-tlsservd tests,CN=bob'"),
                    "GOTCERT without VERIFIED, and why: " + bobLine);
            assertTrue(log.has(":" + h.rawSocketOf(b).getLocalPort() + ": refused program " + 0x20000099 + " version 1 procedure 1: "
                    + "certificate not on the allow-list: not allowed: subject \"O=rpc-tlsservd tests,CN=bob\""),
                    "the refusal says it was the allow-list, not the chain: " + log.lines());

            // The administrator swaps the list and sends SIGHUP.
            conf("allow-san = bob.example.org\n");
            reload(h);
            Await.until(() -> log.has("Certificate no longer allowed issuerName=/CN=Allow CA/O=rpc-tlsservd tests subjectName=/CN=alice"),
                    "alice's session to be shut off");
            assertTrue(log.has("reloaded the allow-lists: subjects [], names [bob.example.org]"), log.lines().toString());
            assertThrows(IOException.class, () -> whoami(a, 3), "alice's session is gone");
            RawRpc b2 = h.tls(TlsHarness.jdkClient(bob, ca, "TLSv1.3"));
            assertEquals(0, whoami(b2, 4).stat, "bob, on the new list, is served");
        }
    }

    @Test
    void aSessionTheReloadRemovesIsCutOffAtOnceBothWays() throws Exception {
        Path f = conf("allow-subject = O=*,CN=alice\n");
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--config", f.toString())) {
            RawRpc a = h.tls(TlsHarness.jdkClient(alice, ca, "TLSv1.3"));
            assertEquals(0, whoami(a, 1).stat, "alice is on the list");
            int relayed = FX.backend().calls.get();

            conf("allow-subject = O=*,CN=bob\n");
            reload(h);
            Await.until(() -> log.has("Certificate no longer allowed issuerName=/CN=Allow CA/O=rpc-tlsservd tests subjectName=/CN=alice"),
                    "alice's session to be shut off");
            // What alice sends from now on never reaches the backend, and her connection is closed, not half-closed.
            try {
                for (int i = 0; i < 20; i++) {
                    a.send(FrontEndHarness.whoami(10 + i, FrontEndHarness.authNone()).bytes());
                }
            } catch (IOException closedAlready) {
                // the front end closed the socket while she was still sending: that is the point
            }
            Await.until(() -> h.daemon.frontEnd().connectionCount() == 0, "alice's connection closed by the front end");
            assertThrows(IOException.class, () -> {
                RawRpc.Reply r = a.read();
                throw new AssertionError("a reply after the shut-off: " + r);
            }, "alice's socket is closed for reading too");
            assertEquals(relayed, FX.backend().calls.get(), "no call alice sent after the shut-off reached the backend");
        }
    }

    @Test
    void requireEkuLetsOnlyRpcTlsClientCertificatesVerify() throws Exception {
        Path f = conf("require-eku\n");
        try (FrontEndHarness h = FX.frontEnd(tmp, "--config", f.toString())) {
            RawRpc a = h.tls(TlsHarness.jdkClient(alice, ca, "TLSv1.3"));
            assertEquals(0, whoami(a, 1).stat, "alice has id-kp-rpcTLSClient");
            RawRpc b = h.tls(TlsHarness.jdkClient(bob, ca, "TLSv1.3"));
            assertEquals(OncRpcAuthStatus.ONCRPC_AUTH_TOOWEAK, whoami(b, 2).authStat);
        }
    }

    @Test
    void theRpctlssdResultsApplyTheListForAnyCaller() throws Exception {
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (TlsHarness h = new TlsHarness(tmp, ca, FX.server, "-m", "-l", tmp.resolve("ca.pem").toString(), "--allow-san", "alice.*")) {
            assertEquals(0x0b, h.attempt(TlsHarness.jdkClient(alice, ca, "TLSv1.3")).flags());
            assertEquals(0x03, h.attempt(TlsHarness.jdkClient(bob, ca, "TLSv1.3")).flags());
        }
    }

    @Test
    void theListNeedsClientCertificates() {
        String m = assertThrows(org.rpctlsservd.cli.UsageException.class,
                () -> new Cli("rpc.tlsservd", 2, "h", n -> null).parse(new String[] {"--allow-subject", "CN=x"})).getMessage();
        assertEquals("rpc.tlsservd: --allow-subject, --allow-san and --require-eku require the -m plus the -l <CAfile> and/or -p <CApath> options", m);
    }
}
