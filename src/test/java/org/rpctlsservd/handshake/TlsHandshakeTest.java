package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.acplt.oncrpc.OncRpcException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_arg;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * CONNECT with real TLS clients on real sockets: protocol versions, suites, ALPN, server keys, and
 * the daemon's answers for the client certificate kinds (reference section 4.3).
 */
class TlsHandshakeTest {
    static TestPki.Ca ca;
    static TestPki.Ca otherCa;
    static TestPki.Issued server;
    static TestPki.Issued good;

    @TempDir
    Path tmp;

    @BeforeAll
    static void pki() {
        ca = TestPki.ca("Test CA");
        otherCa = TestPki.ca("Other CA");
        server = ca.leaf("server").dns("localhost").issue();
        good = ca.leaf("client").dns("localhost").issue();
    }

    private TlsHarness harness(String... args) throws Exception {
        return new TlsHarness(tmp, ca, server, args);
    }

    private static SSLContext client(TestPki.Issued cert) throws Exception {
        return TlsHarness.jdkClient(cert, ca, "TLSv1.3");
    }

    static int handleRecord(TlsHarness h, long cookie) throws Exception {
        rpctlssd_handlerecord_arg a = new rpctlssd_handlerecord_arg();
        a.socookie = cookie;
        return h.rpc().RPCTLSSD_HANDLERECORD_2(a).reterr;
    }

    static int disconnect(TlsHarness h, long cookie) throws Exception {
        rpctlssd_disconnect_arg a = new rpctlssd_disconnect_arg();
        a.socookie = cookie;
        return h.rpc().RPCTLSSD_DISCONNECT_2(a).reterr;
    }

    @Test
    void withoutClientCertificatesFlagsAreHandshakeOnly() throws Exception {
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness()) {
            TlsHarness.Attempt a = h.attempt(client(null));
            assertEquals(0x01, a.flags());
            assertEquals(0, a.result().uid);
            assertEquals(0, a.result().gid.length);
            assertEquals("TLSv1.3", a.socket().getSession().getProtocol());
            String audit = log.find("handshake peer=127.0.0.1:");
            assertNotNull(audit, log.lines().toString());
            assertTrue(audit.contains(" result=ok version=TLS1.3 suite=TLS_AES_256_GCM_SHA384 group="), audit);
            assertTrue(audit.contains(" alpn=none cert=none flags=0x01(handshake) uid=-"), audit);
            assertNotNull(h.daemon.sessions().get(a.cookie()));
        }
    }

    @Test
    void alpnSunrpcIsEchoedWhenOffered() throws Exception {
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness()) {
            TlsHarness.Attempt a = h.attempt(client(null), TlsHarness.alpn("sunrpc"));
            assertEquals(0x01, a.flags());
            assertEquals("sunrpc", a.socket().getApplicationProtocol());
            assertTrue(log.find("handshake peer=").contains(" alpn=sunrpc "));
        }
    }

    @Test
    void alpnCanBeRequired() throws Exception {
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness("--require-alpn")) {
            TlsHarness.Attempt without = h.attempt(client(null));
            assertNull(without.result());
            assertEquals(OncRpcException.RPC_SYSTEMERROR, ((OncRpcException) without.rpcError()).getReason());
            assertNotNull(without.clientError(), "the client sees the handshake refused");
            assertTrue(log.has("result=failed"), log.lines().toString());
            assertTrue(log.find("result=failed").contains("no_application_protocol"), log.find("result=failed"));
            TlsHarness.Attempt with = h.attempt(client(null), TlsHarness.alpn("sunrpc"));
            assertEquals(0x01, with.flags());
        }
    }

    @Test
    void tls12IsRefusedWithoutMinus2AndAcceptedWithIt() throws Exception {
        try (TlsHarness h = harness()) {
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.2"),
                    protocols("TLSv1.2"));
            assertNull(a.result(), "no session for a TLS 1.2 client");
            assertNotNull(a.clientError());
            assertEquals(0, h.daemon.sessions().size());
        }
        try (TlsHarness h = new TlsHarness(tmp.resolve("two"), ca, server, "-2")) {
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.2"), protocols("TLSv1.2"));
            assertEquals(0x01, a.flags());
            assertEquals("TLSv1.2", a.socket().getSession().getProtocol());
            TlsHarness.Attempt b = h.attempt(client(null));
            assertEquals("TLSv1.3", b.socket().getSession().getProtocol(), "1.3 stays preferred");
        }
    }

    static javax.net.ssl.SSLParameters protocols(String... p) {
        javax.net.ssl.SSLParameters params = new javax.net.ssl.SSLParameters();
        params.setProtocols(p);
        return params;
    }

    @Test
    void ciphersOptionChoosesTheSuite() throws Exception {
        try (TlsHarness h = harness("-C", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256")) {
            TlsHarness.Attempt a = h.attempt(client(null));
            assertEquals("TLS_CHACHA20_POLY1305_SHA256", a.socket().getSession().getCipherSuite());
        }
    }

    @Test
    void rsaServerKeysWork() throws Exception {
        TestPki.Issued rsa = ca.leaf("rsa-server").dns("localhost").rsa().issue();
        try (TlsHarness h = new TlsHarness(tmp, ca, rsa, "-2")) {
            assertEquals(0x01, h.attempt(client(null)).flags());
            TlsHarness.Attempt t12 = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.2"), protocols("TLSv1.2"));
            assertEquals(0x01, t12.flags());
            assertTrue(t12.socket().getSession().getCipherSuite().contains("ECDHE_RSA"), t12.socket().getSession().getCipherSuite());
        }
    }

    @Test
    void mutualWithoutAClientCertificate() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness("-m", "-l", caFile.toString())) {
            assertEquals(0x01, h.attempt(client(null)).flags());
            assertTrue(log.has("rpctls_server: No peer certificate"));
        }
    }

    @Test
    void certificateKinds() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        TestPki.Issued selfSigned = TestPki.selfSigned("self", "localhost");
        TestPki.Issued strangerWithRoot = otherCa.leaf("stranger").dns("localhost").issue();
        // the leaf alone: OpenSSL's error 20, unable to get the local issuer
        TestPki.Issued stranger = new TestPki.Issued(strangerWithRoot.cert(), strangerWithRoot.keys(), java.util.List.of(strangerWithRoot.cert()));
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness("-m", "-l", caFile.toString())) {
            TlsHarness.Attempt verified = h.attempt(client(good));
            assertEquals(0x0B, verified.flags());
            TlsSession s = (TlsSession) h.daemon.sessions().get(verified.cookie());
            assertEquals(good.cert(), s.verifiedChain().get(0), "a verified certificate is kept for CRL checks");
            String audit = log.find("cert.subject=\"/CN=client");
            assertNotNull(audit, log.lines().toString());
            assertTrue(audit.contains("cert.issuer=\"/CN=Test CA/O=rpc-tlsservd tests\""), audit);
            assertTrue(audit.contains("cert.serial=" + good.cert().getSerialNumber().toString(16)), audit);
            assertTrue(audit.matches(".*cert\\.sha256=([0-9A-F]{2}:){31}[0-9A-F]{2} flags=0x0b\\(handshake,gotcert,verified\\) .*"), audit);
            assertTrue(audit.contains(" result=ok ") && !audit.contains("reason="), audit);

            TlsHarness.Attempt self = h.attempt(client(selfSigned));
            assertEquals(0x07, self.flags());
            java.util.List<String> selfLines = log.alwaysLines().stream().filter(l -> l.contains("CN=self")).toList();
            assertEquals(1, selfLines.size(), "one line for the handshake, without -v: " + selfLines);
            String failed = selfLines.get(0);
            assertTrue(failed.startsWith("handshake peer=127.0.0.1:"), failed);
            assertTrue(failed.contains(" result=unverified ") && !failed.contains("result=ok"), failed);
            assertTrue(failed.contains(" flags=0x07(handshake,gotcert,selfsigned) uid=- reason=\"certificate not verified: self-signed"
                    + " certificate, not trusted here (issuer /CN=self/O=rpc-tlsservd tests)\""), failed);
            assertTrue(log.has("rpctls_server: client IP 127.0.0.1 issuerName=/CN=self/O=rpc-tlsservd tests"
                    + " subjectName=/CN=self/O=rpc-tlsservd tests verify failed self-signed certificate"), "the C daemon's line, for -v");
            assertTrue(((TlsSession) h.daemon.sessions().get(self.cookie())).verifiedChain().isEmpty());

            TlsHarness.Attempt unknown = h.attempt(client(stranger));
            assertEquals(0x03, unknown.flags());
            assertTrue(((TlsSession) h.daemon.sessions().get(unknown.cookie())).verifiedChain().isEmpty(),
                    "an unverified certificate is not kept");
            String strangerLine = log.find("cert.subject=\"/CN=stranger");
            assertTrue(strangerLine.contains(" result=unverified ") && strangerLine.contains(" flags=0x03(handshake,gotcert) uid=-"
                    + " reason=\"certificate not verified: no path to a CA trusted here (verifylocs/verifydir) (issuer /CN=Other CA/O=rpc-tlsservd tests)\""),
                    strangerLine);

            // with its untrusted root: error 19, self-signed certificate in the chain
            TlsHarness.Attempt rooted = h.attempt(client(strangerWithRoot));
            assertEquals(0x07, rooted.flags());
            assertTrue(log.has("reason=\"certificate not verified: self-signed certificate in certificate chain, not trusted here"), log.lines().toString());
        }
    }

    @Test
    void anOverLongClientChainGetsBadCertificate() throws Exception {
        java.util.List<org.bouncycastle.cert.X509CertificateHolder> chain = new java.util.ArrayList<>(good.chain());
        while (chain.size() <= 11) {
            chain.add(ca.cert());
        }
        TestPki.Issued longChain = new TestPki.Issued(good.cert(), good.keys(), chain);
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness("-m", "-l", caFile.toString())) {
            TlsHarness.Attempt a = h.attempt(client(longChain));
            assertNotNull(a.rpcError(), "CONNECT answered with an error");
            // TLS 1.3: the client's handshake is over before its certificate is judged; the alert is in the audit line
            assertTrue(log.has("reason=\"sent bad_certificate(42) (a client chain of 12 certificates, more than 10)\""), log.lines().toString());
            assertEquals(0x0B, h.attempt(client(good)).flags(), "a chain of two is fine");
        }
    }

    @Test
    void hashedCaDirectory() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("capath"));
        Path pem = Files.writeString(dir.resolve("ca.pem"), TestPki.pem(ca.cert()));
        Commands.Result hash = Commands.run(30, "openssl", "x509", "-hash", "-noout", "-in", pem.toString());
        Files.move(pem, dir.resolve(hash.output().trim() + ".0"));
        try (TlsHarness h = harness("-m", "-p", dir.toString())) {
            assertEquals(0x0B, h.attempt(client(good)).flags());
        }
    }

    @Test
    void alreadyRevokedCertificatesAreNotVerified() throws Exception {
        TestPki.Ca revoking = TestPki.ca("Revoking CA");
        TestPki.Issued srv = revoking.leaf("server").dns("localhost").issue();
        TestPki.Issued revoked = revoking.leaf("revoked").issue();
        TestPki.Issued fine = revoking.leaf("fine").issue();
        revoking.revoke(revoked.cert().getSerialNumber());
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(revoking.cert()));
        Path crl = Files.writeString(tmp.resolve("crl.pem"), TestPki.pem(revoking.crl()));
        try (LogCapture log = LogCapture.daemon();
                TlsHarness h = new TlsHarness(tmp, revoking, srv, "-m", "-l", caFile.toString(), "-r", crl.toString())) {
            SSLContext c1 = TlsHarness.jdkClient(revoked, revoking, "TLSv1.3");
            assertEquals(0x03, h.attempt(c1).flags());
            String revokedLine = log.find("cert.subject=\"/CN=revoked");
            assertTrue(revokedLine.contains(" result=unverified ") && revokedLine.contains("reason=\"certificate not verified: "), revokedLine);
            assertEquals(0x0B, h.attempt(TlsHarness.jdkClient(fine, revoking, "TLSv1.3")).flags());
        }
    }

    @Test
    void hostCheckAgainstTheReverseName() throws Exception {
        // 127.0.0.1 resolves back to "localhost" through /etc/hosts
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        TestPki.Issued elsewhere = ca.leaf("elsewhere").dns("nfs.example.org").issue();
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness("-h", "-m", "-l", caFile.toString())) {
            assertEquals(0x0B, h.attempt(client(good)).flags());
            assertTrue(log.has("rpctls_checkhost: DNS localhost"), log.lines().toString());
            TlsHarness.Attempt mismatch = h.attempt(client(elsewhere));
            assertEquals(0x1B, mismatch.flags());
            assertNotNull(h.daemon.sessions().get(mismatch.cookie()), "a failed host check still answers and keeps the session");
            assertTrue(log.has("rpctls_server: checkhost failed"));
            String mismatchLine = log.find("cert.subject=\"/CN=elsewhere");
            assertTrue(mismatchLine.contains(" result=unverified ") && mismatchLine.contains(" flags=0x1b(handshake,gotcert,verified,disabled) ")
                    && mismatchLine.contains("reason=\"host check (-h) failed: the certificate does not name localhost\""), mismatchLine);
        }
    }

    @Test
    void garbageInsteadOfAClientHello() throws Exception {
        try (LogCapture log = LogCapture.daemon(); TlsHarness h = harness(); Socket s = new Socket("127.0.0.1", h.listenPort())) {
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes());
            long cookie = h.acceptAndPark();
            OncRpcException e = assertThrows(OncRpcException.class, () -> h.connect(cookie));
            assertEquals(OncRpcException.RPC_SYSTEMERROR, e.getReason());
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            while (in.read() >= 0) {
                // an alert may come first; then the daemon closes the socket
            }
            assertEquals(0, h.daemon.sessions().size());
            Await.until(() -> h.daemon.workers().running() == 0, "worker released");
            assertTrue(log.find("result=failed").contains("reason="), log.find("result=failed"));
            assertEquals(0x01, h.attempt(client(null)).flags(), "the daemon carries on");
        }
    }

    @Test
    void handleRecordAnswersCloseNotifyAndDisconnectCloses() throws Exception {
        try (TlsHarness h = harness()) {
            TlsHarness.Attempt a = h.attempt(client(null));
            assertEquals(0, handleRecord(h, a.cookie()), "the entry exists once CONNECT has answered");
            assertEquals(2, handleRecord(h, 0x77L));
            a.socket().shutdownOutput(); // the client's close_notify
            Await.until(() -> {
                try {
                    return handleRecord(h, a.cookie()) == 0 && ((TlsSession) h.daemon.sessions().get(a.cookie())).tlsClosed();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }, "the close_notify processed");
            assertEquals(-1, a.socket().getInputStream().read(), "our close_notify came back");
            assertEquals(0, disconnect(h, a.cookie()));
            assertEquals(1, disconnect(h, a.cookie()));
            assertNull(h.daemon.sessions().get(a.cookie()));

            TlsHarness.Attempt b = h.attempt(client(null));
            assertEquals(0, disconnect(h, b.cookie()));
            assertEquals(-1, b.socket().getInputStream().read(), "DISCONNECT sends close_notify and closes");
        }
    }

    @Test
    void stoppingTheDaemonEndsEverySession() throws Exception {
        TlsHarness h = harness();
        try {
            TlsHarness.Attempt a = h.attempt(client(null));
            TlsHarness.Attempt b = h.attempt(client(null));
            h.daemon.close();
            assertEquals(0, h.daemon.sessions().size());
            assertEquals(-1, a.socket().getInputStream().read());
            assertEquals(-1, b.socket().getInputStream().read());
        } finally {
            h.close();
        }
    }

    @Test
    void opensslClientAfterTheHandOff() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        Path cert = Files.writeString(tmp.resolve("client.pem"), TestPki.pem(good.cert()));
        Path key = Files.writeString(tmp.resolve("client.key"),
                TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(good.privateKey(), null)));
        try (TlsHarness h = harness("-m", "-l", caFile.toString())) {
            Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + h.listenPort(), "-tls1_3",
                    "-alpn", "sunrpc", "-cert", cert.toString(), "-key", key.toString(), "-CAfile", caFile.toString(),
                    "-verify_return_error").redirectErrorStream(true).start();
            long cookie = h.acceptAndPark();
            int flags = h.connect(cookie).flags;
            p.getOutputStream().close();
            assertTrue(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0x0B, flags, out);
            assertTrue(out.contains("New, TLSv1.3, Cipher is"), out);
            assertTrue(out.contains("ALPN protocol: sunrpc"), out);
            assertTrue(out.contains("Verify return code: 0 (ok)"), out);
        }
    }

    @Test
    void uidAndGidsAreAbsentWithoutCertUser() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        TestPki.Issued withUser = ca.leaf("u").user("root@example.org").issue();
        try (TlsHarness h = harness("-m", "-l", caFile.toString())) {
            TlsHarness.Attempt a = h.attempt(client(withUser));
            assertEquals(0x0B, a.flags());
            assertEquals(0, a.result().uid);
            assertArrayEquals(new int[0], a.result().gid);
            assertFalse(h.daemon.sessions().size() == 0);
        }
    }
}
