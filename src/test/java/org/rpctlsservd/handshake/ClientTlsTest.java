package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.TestPki;

/**
 * rpc.tlsclntd's handshake (ClientTls) on real loopback sockets, against the daemon's own server
 * engine and against the JDK's TLS server (another stack): versions, ALPN, the server's certificate
 * checks with their reasons, the client certificate, a silent server, a server that is not TLS, and
 * records both ways through the sessions afterwards.
 */
class ClientTlsTest {
    static TestPki.Ca ca;
    static TestPki.Ca otherCa;
    static TestPki.Issued server;

    @TempDir
    Path tmp;

    HandshakeWorkers workers;
    ScheduledExecutorService timer;
    ExecutorService threads;
    final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void pki() {
        ca = TestPki.ca("Test CA");
        otherCa = TestPki.ca("Other CA");
        server = ca.leaf("server").dns("localhost").issue();
    }

    @BeforeEach
    void pools() {
        workers = new HandshakeWorkers(2, 64);
        timer = Executors.newSingleThreadScheduledExecutor();
        threads = Executors.newCachedThreadPool();
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        threads.shutdownNow();
        timer.shutdownNow();
        workers.close();
    }

    // --- the parts ---

    /** The client as rpc.tlsclntd runs it: verifying against Test CA (-l) unless {@code verify} is false. */
    ClientTls client(boolean tls12Only, boolean verify, boolean presentCert, Path certDir, Duration deadline) throws Exception {
        TrustMaterial trust = null;
        if (verify) {
            Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
            trust = TrustMaterial.load(caFile.toString(), null, null);
        }
        ClientTls c = ClientTls.start(new ClientPolicy(tls12Only, null, verify, presentCert, certDir == null ? tmp.toString() : certDir.toString(),
                deadline), trust, timer);
        toClose.add(c);
        return c;
    }

    ClientTls verifyingClient() throws Exception {
        return client(false, true, false, null, Duration.ofSeconds(10));
    }

    /** The daemon's own server engine; {@code requestCert}: -m with Test CA as -l. */
    ServerTls ourServer(TestPki.Issued cert, boolean allowTls12, boolean requestCert) throws Exception {
        TlsPolicy p = new TlsPolicy(allowTls12, TlsPolicy.DEFAULT_TLS13, false, Duration.ofSeconds(10), requestCert, false,
                Config.NO_WILDCARDS, false, "@example.org", false, TlsPolicy.DEFAULT_GROUPS);
        TrustMaterial trust = null;
        if (requestCert) {
            Path caFile = Files.writeString(tmp.resolve("server-ca.pem"), TestPki.pem(ca.cert()));
            trust = TrustMaterial.load(caFile.toString(), null, null);
        }
        ServerTls s = ServerTls.start(p, credentials(cert), trust, null, timer);
        toClose.add(s);
        return s;
    }

    static ServerCredentials credentials(TestPki.Issued cert) throws IOException {
        return ServerCredentials.of(cert.chain(), PrivateKeyInfo.getInstance(cert.privateKey().getEncoded()), "test");
    }

    /** A connected pair on loopback: [client side, server side]. */
    SocketChannel[] pair() throws IOException {
        try (ServerSocketChannel l = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            SocketChannel c = SocketChannel.open(l.getLocalAddress());
            SocketChannel s = l.accept();
            toClose.add(c);
            toClose.add(s);
            return new SocketChannel[] {c, s};
        }
    }

    /** Starts {@code start} on a handshake worker, as the RPC services do. */
    CompletableFuture<HandshakeOutcome> onWorker(Supplier<CompletionStage<HandshakeOutcome>> start) {
        CompletableFuture<HandshakeOutcome> f = new CompletableFuture<>();
        assertTrue(workers.submit(() -> start.get().whenComplete((o, e) -> {
            if (e != null) {
                f.completeExceptionally(e);
            } else {
                f.complete(o);
            }
        })));
        return f;
    }

    record Both(HandshakeOutcome client, HandshakeOutcome server, SocketChannel clientCh, SocketChannel serverCh) {
    }

    Both againstOurs(ClientTls c, ServerTls s, String serverName, String certName) throws Exception {
        SocketChannel[] p = pair();
        CompletableFuture<HandshakeOutcome> sf = onWorker(() -> s.handshake(p[1], null, 2, workers.executor(), System.nanoTime()));
        CompletableFuture<HandshakeOutcome> cf = onWorker(() -> c.connect(p[0], serverName, certName, 1, workers.executor(), System.nanoTime()));
        return new Both(cf.get(10, TimeUnit.SECONDS), sf.get(10, TimeUnit.SECONDS), p[0], p[1]);
    }

    /** The failure's message: the handshake must fail. */
    static String failure(CompletableFuture<HandshakeOutcome> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, e.getCause());
        return e.getCause().getMessage();
    }

    String refusedByOurs(ClientTls c, TestPki.Issued cert, String serverName) throws Exception {
        ServerTls s = ourServer(cert, false, false);
        SocketChannel[] p = pair();
        onWorker(() -> s.handshake(p[1], null, 2, workers.executor(), System.nanoTime()));
        return failure(onWorker(() -> c.connect(p[0], serverName, "", 1, workers.executor(), System.nanoTime())));
    }

    /** The JDK's TLS server, {@code protocols} allowed, ALPN sunrpc, echoing what it reads until the client goes. */
    SSLServerSocket jdkServer(TestPki.Issued cert, String... protocols) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", cert.privateKey(), new char[0], cert.jcaChain());
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", new JcaX509CertificateConverter().getCertificate(ca.cert()));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        SSLParameters params = ss.getSSLParameters();
        params.setProtocols(protocols);
        params.setApplicationProtocols(new String[] {"sunrpc"});
        params.setWantClientAuth(true);
        ss.setSSLParameters(params);
        toClose.add(ss);
        return ss;
    }

    /** Accepts one client on {@code ss} and echoes its bytes; completes with the peer's certificate subject (or "none"). */
    Future<String> echoOnce(SSLServerSocket ss) {
        return threads.submit(() -> {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.setSoTimeout(10_000);
                s.startHandshake();
                String peer;
                try {
                    peer = ((java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                    peer = "none";
                }
                InputStream in = s.getInputStream();
                byte[] b = new byte[4096];
                int n;
                while ((n = in.read(b)) > 0) {
                    s.getOutputStream().write(b, 0, n);
                    s.getOutputStream().flush();
                }
                return peer;
            }
        });
    }

    record Conn(SocketChannel ch, CompletableFuture<HandshakeOutcome> outcome) {
    }

    Conn connectTo(ClientTls c, int port, String serverName, String certName) throws IOException {
        SocketChannel ch = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        toClose.add(ch);
        return new Conn(ch, onWorker(() -> c.connect(ch, serverName, certName, 7, workers.executor(), System.nanoTime())));
    }

    // --- records through the sessions ---

    static void send(EstablishedSession s, SocketChannel ch, byte[] plain) throws IOException {
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        s.encrypt(plain, 0, plain.length, records::write);
        ByteBuffer b = ByteBuffer.wrap(records.toByteArray());
        while (b.hasRemaining()) {
            ch.write(b); // a few hundred bytes: the socket's buffer takes them
        }
    }

    /** Reads and decrypts from the (non-blocking) socket until {@code n} plaintext bytes arrived. */
    static byte[] receive(EstablishedSession s, SocketChannel ch, int n) {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
        Await.until(() -> {
            try {
                buf.clear();
                int got = ch.read(buf);
                if (got > 0) {
                    buf.flip();
                    s.decrypt(buf, plain::write, (b, off, len) -> { });
                }
                return plain.size() >= n;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, n + " bytes through the session");
        return plain.toByteArray();
    }

    static EstablishedSession established(HandshakeOutcome o) {
        assertInstanceOf(EstablishedSession.class, o.session());
        return (EstablishedSession) o.session();
    }

    // --- certificates the PKI helper does not make ---

    /** A leaf of {@code issuer} with the given validity and subjectAltNames. */
    static TestPki.Issued leaf(TestPki.Ca issuer, String cn, Instant notBefore, Instant notAfter, GeneralName... sans) throws Exception {
        java.security.KeyPair kp = TestPki.ecKeys();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer.cert().getSubject(), BigInteger.valueOf(System.nanoTime()),
                Date.from(notBefore), Date.from(notAfter), new X500Name("CN=" + cn + ",O=rpc-tlsservd tests"), kp.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
        X509CertificateHolder cert = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.self.privateKey()));
        return new TestPki.Issued(cert, kp, List.of(cert, issuer.cert()));
    }

    static GeneralName ip(String literal) {
        return new GeneralName(GeneralName.iPAddress, literal);
    }

    static GeneralName dns(String name) {
        return new GeneralName(GeneralName.dNSName, name);
    }

    // --- the tests ---

    @Test
    void againstOurServerTls13WithAlpnSunrpcVerifiedAndRecordsBothWays() throws Exception {
        try (LogCapture log = LogCapture.daemon()) {
            Both b = againstOurs(verifyingClient(), ourServer(server, false, false), "localhost", "");
            assertEquals(HandshakeOutcome.FLAGS_HANDSHAKE | HandshakeOutcome.FLAGS_GOTCERT | HandshakeOutcome.FLAGS_VERIFIED,
                    b.client().flags());
            EstablishedSession cs = established(b.client());
            EstablishedSession ss = established(b.server());
            assertEquals("TLSv1.3", cs.version());
            assertEquals("sunrpc", cs.alpn());
            assertEquals("sunrpc", ss.alpn(), "the server agreed to it too");
            assertEquals(server.cert(), cs.verifiedChain().get(0), "the verified server certificate is kept (for -r's re-checks)");
            String audit = log.find("handshake server=127.0.0.1:");
            assertNotNull(audit, log.lines().toString());
            assertTrue(audit.contains(" result=ok version=TLS1.3 suite=TLS_AES_256_GCM_SHA384 group=X25519MLKEM768 alpn=sunrpc"
                    + " cert.subject=\"/CN=server/O=rpc-tlsservd tests\" cert.issuer=\"/CN=Test CA/O=rpc-tlsservd tests\""), audit);
            assertTrue(audit.contains(" name=localhost") && audit.contains(" flags=0x0b(handshake,gotcert,verified) ms="), audit);

            byte[] call = "a call from the client".getBytes(StandardCharsets.UTF_8);
            send(cs, b.clientCh(), call);
            assertArrayEquals(call, receive(ss, b.serverCh(), call.length));
            byte[] reply = "the server's reply".getBytes(StandardCharsets.UTF_8);
            send(ss, b.serverCh(), reply);
            assertArrayEquals(reply, receive(cs, b.clientCh(), reply.length));
        }
    }

    @Test
    void againstTheJdkServerTls13WithAlpnAndRecordsBothWays() throws Exception {
        SSLServerSocket ss = jdkServer(server, "TLSv1.3");
        Future<String> echo = echoOnce(ss);
        Conn c = connectTo(verifyingClient(), ss.getLocalPort(), "localhost", "");
        HandshakeOutcome o = c.outcome().get(10, TimeUnit.SECONDS);
        assertEquals(0x0b, o.flags());
        EstablishedSession s = established(o);
        assertEquals("TLSv1.3", s.version());
        assertEquals("sunrpc", s.alpn());
        byte[] call = "through Java's own TLS and back".getBytes(StandardCharsets.UTF_8);
        send(s, c.ch(), call);
        assertArrayEquals(call, receive(s, c.ch(), call.length), "the JDK decrypted it and its echo decrypts here");
        assertEquals("none", closeAndGet(c, s, echo), "no client certificate without -m");
    }

    /** Ends a session (close_notify) and returns what the JDK echo server saw of the client. */
    static String closeAndGet(Conn c, EstablishedSession s, Future<String> echo) throws Exception {
        ((org.rpctlsservd.sessions.Session) s).disconnect();
        return echo.get(10, TimeUnit.SECONDS);
    }

    @Test
    void minus2GivesTls12AndRefusesATls13OnlyServer() throws Exception {
        ClientTls tls12 = client(true, true, false, null, Duration.ofSeconds(10));
        SSLServerSocket both = jdkServer(server, "TLSv1.3", "TLSv1.2");
        Future<String> echo = echoOnce(both);
        Conn c = connectTo(tls12, both.getLocalPort(), "localhost", "");
        HandshakeOutcome o = c.outcome().get(10, TimeUnit.SECONDS);
        assertEquals("TLSv1.2", established(o).version(), "-2 pins the maximum too");
        assertEquals(0x0b, o.flags());
        closeAndGet(c, established(o), echo);

        try (LogCapture log = LogCapture.daemon()) {
            String why = refusedByOurs(tls12, server, "localhost");
            assertTrue(why.startsWith("TLS alert from the server: protocol_version"), why);
            String audit = log.find("handshake server=");
            assertTrue(audit.contains(" result=failed ") && audit.contains("reason=\"TLS alert from the server: protocol_version"), audit);
        }
    }

    @Test
    void aServerCertificateForAnotherNameIsRefused() throws Exception {
        try (LogCapture log = LogCapture.daemon()) {
            TestPki.Issued other = ca.leaf("other").dns("nfs.example.org").issue();
            String why = refusedByOurs(verifyingClient(), other, "localhost");
            assertEquals("certificate does not match localhost (it names DNS:nfs.example.org)", why);
            String audit = log.find("handshake server=");
            assertTrue(audit.contains(" result=failed ") && audit.contains(" cert.subject=\"/CN=other/O=rpc-tlsservd tests\"")
                    && audit.contains(" reason=\"certificate does not match localhost (it names DNS:nfs.example.org)\""), audit);
        }
    }

    @Test
    void aCertificateIssuedToAClientIsNotAServers() throws Exception {
        // the same CA and the right name, but its extended key usage is clientAuth alone (a peer host's mTLS certificate)
        TestPki.Issued clientOnly = ca.leaf("client-only").dns("localhost").eku("1.3.6.1.5.5.7.3.2").issue();
        assertEquals("certificate is not for a TLS server: its extended key usage does not list serverAuth (subject "
                + "/CN=client-only/O=rpc-tlsservd tests)", refusedByOurs(verifyingClient(), clientOnly, "localhost"));
        TestPki.Issued serverAuth = ca.leaf("server-auth").dns("localhost").eku("1.3.6.1.5.5.7.3.1").issue();
        Both ok = againstOurs(verifyingClient(), ourServer(serverAuth, false, false), "localhost", "");
        assertEquals(HandshakeOutcome.FLAGS_HANDSHAKE | HandshakeOutcome.FLAGS_GOTCERT | HandshakeOutcome.FLAGS_VERIFIED,
                ok.client().flags(), "a serverAuth certificate passes");
    }

    @Test
    void wildcardsAreNotAccepted() throws Exception {
        TestPki.Issued wild = leaf(ca, "wild", Instant.now().minusSeconds(3600), Instant.now().plusSeconds(86400), dns("*.example.org"));
        assertTrue(refusedByOurs(verifyingClient(), wild, "nfs.example.org").startsWith("certificate does not match nfs.example.org"));
    }

    @Test
    void anExpiredServerCertificateIsRefused() throws Exception {
        Instant end = Instant.now().minus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        TestPki.Issued expired = leaf(ca, "expired", end.minus(Duration.ofDays(30)), end, dns("localhost"));
        String why = refusedByOurs(verifyingClient(), expired, "localhost");
        assertTrue(why.startsWith("certificate expired on " + end), why);
    }

    @Test
    void aServerCertificateOfAnotherCaIsRefused() throws Exception {
        // the JDK's server: another stack's Certificate message
        TestPki.Issued withRoot = otherCa.leaf("stranger").dns("localhost").issue();
        // the leaf alone, as servers usually send it: OpenSSL's error 20
        TestPki.Issued stranger = new TestPki.Issued(withRoot.cert(), withRoot.keys(), List.of(withRoot.cert()));
        SSLServerSocket ss = jdkServer(stranger, "TLSv1.3");
        threads.submit(() -> {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.startHandshake();
            }
            return null;
        });
        String why = failure(connectTo(verifyingClient(), ss.getLocalPort(), "localhost", "").outcome());
        assertTrue(why.startsWith("certificate not verified: unable to get local issuer certificate (issuer /CN=Other CA/O=rpc-tlsservd tests"),
                why);
    }

    @Test
    void anIpLiteralIsMatchedAgainstIpAddressNames() throws Exception {
        Instant now = Instant.now();
        TestPki.Issued byIp = leaf(ca, "by-ip", now.minusSeconds(3600), now.plusSeconds(86400), ip("127.0.0.1"), dns("localhost"));
        Both b = againstOurs(verifyingClient(), ourServer(byIp, false, false), "127.0.0.1", "");
        assertEquals(0x0b, b.client().flags());

        TestPki.Issued otherIp = leaf(ca, "other-ip", now.minusSeconds(3600), now.plusSeconds(86400), ip("127.0.0.2"), dns("localhost"));
        assertEquals("certificate does not match 127.0.0.1 (it names IP:127.0.0.2, DNS:localhost)",
                refusedByOurs(verifyingClient(), otherIp, "127.0.0.1"));
        TestPki.Issued dnsOnly = ca.leaf("dns-only").dns("127.0.0.1").issue();
        assertTrue(refusedByOurs(verifyingClient(), dnsOnly, "127.0.0.1").startsWith("certificate does not match 127.0.0.1"),
                "an IP literal is never matched against a dNSName");
        Both byPeer = againstOurs(verifyingClient(), ourServer(byIp, false, false), null, "");
        assertEquals(0x0b, byPeer.client().flags(), "no name given: the peer's address is checked");
    }

    @Test
    void withoutVerificationAnyCertificateIsTakenUnflagged() throws Exception {
        TestPki.Issued stranger = otherCa.leaf("stranger").dns("elsewhere").issue();
        Both b = againstOurs(client(false, false, false, null, Duration.ofSeconds(10)), ourServer(stranger, false, false), "localhost", "");
        assertEquals(HandshakeOutcome.FLAGS_HANDSHAKE, b.client().flags());
        assertTrue(established(b.client()).verifiedChain().isEmpty());
    }

    @Test
    void minusMPresentsTheClientCertificateAndTheCertnamesOne() throws Exception {
        Path certDir = Files.createDirectories(tmp.resolve("clntd"));
        TestPki.Issued own = ca.leaf("own-client").issue();
        TestPki.Issued mount = ca.leaf("mount-client").issue();
        TestPki.writeServer(certDir, own); // cert.pem, certkey.pem
        Files.writeString(certDir.resolve("mount1.pem"), TestPki.pem(mount.chain().toArray()));
        Files.writeString(certDir.resolve("mount1key.pem"), TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(
                mount.privateKey(), null)));
        ClientTls c = client(false, true, true, certDir, Duration.ofSeconds(10));
        ServerTls s = ourServer(server, false, true);

        Both daemons = againstOurs(c, s, "localhost", "");
        assertEquals(0x0b, daemons.server().flags(), "the server verified the client's certificate");
        assertEquals(own.cert(), established(daemons.server()).verifiedChain().get(0));

        Both perMount = againstOurs(c, s, "localhost", "mount1");
        assertEquals(mount.cert(), established(perMount.server()).verifiedChain().get(0), "mount1.pem was presented");

        SocketChannel[] p = pair();
        onWorker(() -> s.handshake(p[1], null, 2, workers.executor(), System.nanoTime()));
        String why = failure(onWorker(() -> c.connect(p[0], "localhost", "mount2", 1, workers.executor(), System.nanoTime())));
        assertTrue(why.startsWith("client certificate mount2 (-m): ") && why.contains("mount2.pem") && why.contains("missing"), why);
        SocketChannel lone = pair()[0];
        String escape = failure(onWorker(() -> c.connect(lone, "localhost", "../etc/x", 1, workers.executor(), System.nanoTime())));
        assertTrue(escape.contains("refused"), escape);

        SSLServerSocket jdk = jdkServer(server, "TLSv1.3");
        Future<String> echo = echoOnce(jdk);
        Conn conn = connectTo(c, jdk.getLocalPort(), "localhost", "mount1");
        String seen = closeAndGet(conn, established(conn.outcome().get(10, TimeUnit.SECONDS)), echo);
        assertTrue(seen.contains("CN=mount-client"), "the JDK saw the per-mount certificate: " + seen);
    }

    @Test
    void aServerThatNeverAnswersMissesTheDeadline() throws Exception {
        try (LogCapture log = LogCapture.daemon(); ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            ClientTls c = client(false, true, false, null, Duration.ofMillis(300));
            Conn conn = connectTo(c, silent.getLocalPort(), "localhost", "");
            try (Socket accepted = silent.accept()) {
                assertEquals("no handshake within 300 ms", failure(conn.outcome()));
                assertEquals(0, c.inFlight());
                assertTrue(!conn.ch().isOpen(), "the socket was closed");
                assertTrue(log.find("handshake server=").contains(" result=failed cert=none name=localhost reason=\"no handshake within 300 ms\""),
                        log.find("handshake server="));
            }
        }
    }

    @Test
    void aServerThatSendsGarbageFailsWithATlsReason() throws Exception {
        try (ServerSocket garbage = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Future<?> talk = threads.submit(() -> {
                try (Socket s = garbage.accept()) {
                    s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.setSoTimeout(10_000);
                    s.getInputStream().readAllBytes(); // until the client hangs up
                }
                return null;
            });
            String why = failure(connectTo(verifyingClient(), garbage.getLocalPort(), "localhost", "").outcome());
            assertTrue(why.startsWith("sent ") && why.contains("not a TLS server"), why);
            talk.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aServerThatHangsUpIsSaidSo() throws Exception {
        try (ServerSocket rude = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            threads.submit(() -> {
                try (Socket s = rude.accept()) {
                    s.getInputStream().read(); // the ClientHello's first byte, then away
                }
                return null;
            });
            assertEquals("the server closed the connection during the handshake",
                    failure(connectTo(verifyingClient(), rude.getLocalPort(), "localhost", "").outcome()));
        }
    }
}
