package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/** SIGHUP: CRL reloads with replace semantics, revoked live sessions shut off, server credentials swapped. */
class ReloadTest {
    @TempDir
    Path tmp;

    @Test
    void aRevokedLiveSessionIsShutOffAndAnEntryRemovedStopsCounting() throws Exception {
        TestPki.Ca ca = TestPki.ca("Reload CA");
        TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
        TestPki.Issued client = ca.leaf("client").issue();
        TestPki.Issued bystander = ca.leaf("bystander").issue();
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        Path crl = Files.writeString(tmp.resolve("crl.pem"), TestPki.pem(ca.crl()));
        try (LogCapture log = LogCapture.daemon();
                TlsHarness h = new TlsHarness(tmp, ca, server, "-m", "-l", caFile.toString(), "-r", crl.toString())) {
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(client, ca, "TLSv1.3"));
            TlsHarness.Attempt b = h.attempt(TlsHarness.jdkClient(bystander, ca, "TLSv1.3"));
            assertEquals(0x0B, a.flags());
            assertEquals(0x0B, b.flags());

            ca.revoke(client.cert().getSerialNumber());
            Files.writeString(crl, TestPki.pem(ca.crl()));
            int before = h.daemon.reloads();
            h.daemon.reload(); // what SIGHUP does
            Await.until(() -> h.daemon.reloads() > before, "the reload");
            String line = log.alwaysLines().stream().filter(l -> l.startsWith("rpctls_daemon: Certificate Revoked")).findFirst().orElse(null);
            assertEquals("rpctls_daemon: Certificate Revoked issuerName=/CN=Reload CA/O=rpc-tlsservd tests"
                    + " subjectName=/CN=client/O=rpc-tlsservd tests: TCP connection closed", line);
            TlsSession s = (TlsSession) h.daemon.sessions().get(a.cookie());
            assertTrue(s.isShutOff());
            assertFalse(((TlsSession) h.daemon.sessions().get(b.cookie())).isShutOff());
            assertEquals(-1, a.socket().getInputStream().read(), "the socket was half-closed for writing");
            assertEquals(0, TlsHandshakeTest.disconnect(h, a.cookie()), "DISCONNECT after a shut-off still answers OK");

            // The same certificate is now refused at the handshake...
            assertEquals(0x03, h.attempt(TlsHarness.jdkClient(client, ca, "TLSv1.3")).flags());
            // ...until its entry leaves the CRL file: reloads replace, they do not add.
            ca.unrevoke(client.cert().getSerialNumber());
            Files.writeString(crl, TestPki.pem(ca.crl()));
            int again = h.daemon.reloads();
            h.daemon.reload();
            Await.until(() -> h.daemon.reloads() > again, "the second reload");
            assertEquals(0x0B, h.attempt(TlsHarness.jdkClient(client, ca, "TLSv1.3")).flags());
            assertEquals(1, log.alwaysLines().stream().filter(l -> l.startsWith("rpctls_daemon: Certificate Revoked")).count(),
                    "a shut-off session is not reported again");
        }
    }

    @Test
    void reloadsAreAtMostOnePer250Milliseconds() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        try (TlsHarness h = new TlsHarness(tmp, ca, ca.leaf("server").issue())) {
            int before = h.daemon.reloads();
            for (int i = 0; i < 5; i++) {
                h.daemon.reload();
            }
            Await.until(() -> h.daemon.reloads() == before + 1, "one reload for a burst");
            for (int i = 0; i < 5; i++) {
                h.daemon.reload();
            }
            Await.until(() -> h.daemon.reloads() == before + 2, "a second one");
            List<Long> times = h.daemon.reloadTimes();
            long gap = times.get(times.size() - 1) - times.get(times.size() - 2);
            assertTrue(gap >= TimeUnit.MILLISECONDS.toNanos(250), "reloads " + TimeUnit.NANOSECONDS.toMillis(gap) + " ms apart");
            assertEquals(before + 2, h.daemon.reloads(), "ten requests, two reloads");
        }
    }

    @Test
    void serverCredentialsAreSwappedAndABadPairIsRefused() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        TestPki.Issued first = ca.leaf("first").dns("localhost").issue();
        TestPki.Issued second = ca.leaf("second").dns("localhost").issue();
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = new TlsHarness(tmp, ca, first)) {
            TlsHarness.Attempt before = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.3"));
            assertTrue(peer(before).contains("CN=first"));

            TestPki.writeServer(tmp.resolve("server"), second);
            int n = h.daemon.reloads();
            h.daemon.reload();
            Await.until(() -> h.daemon.reloads() > n, "reload");
            TlsHarness.Attempt after = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.3"));
            assertTrue(peer(after).contains("CN=second"), peer(after));
            assertNotNull(h.daemon.sessions().get(before.cookie()), "live sessions keep theirs");
            assertTrue(log.has("reloaded the server certificate and key"));

            // a key that does not belong to the certificate: refused, the old pair stays in service
            Files.writeString(tmp.resolve("server").resolve("certkey.pem"),
                    TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(first.privateKey(), null)));
            int m = h.daemon.reloads();
            h.daemon.reload();
            Await.until(() -> h.daemon.reloads() > m, "reload");
            assertTrue(log.has("refused the new server certificate and key, keeping the old ones"), log.lines().toString());
            TlsHarness.Attempt still = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.3"));
            assertTrue(peer(still).contains("CN=second"));
        }
    }

    private static String peer(TlsHarness.Attempt a) throws Exception {
        return ((java.security.cert.X509Certificate) a.socket().getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }

    @Test
    void sighupWithoutACrlDoesNoCrlWork() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (LogCapture log = LogCapture.daemon();
                TlsHarness h = new TlsHarness(tmp, ca, ca.leaf("server").issue(), "-m", "-l", caFile.toString())) {
            int n = h.daemon.reloads();
            h.daemon.reload();
            Await.until(() -> h.daemon.reloads() > n, "reload");
            assertFalse(log.has("CRL"), log.lines().toString());
            assertFalse(log.lines().stream().anyMatch(l -> l.contains("failed")), log.lines().toString());
        }
    }
}
