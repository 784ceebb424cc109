package org.rpctlsservd.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.acplt.oncrpc.XdrVoid;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.handshake.ClientTls;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.handshake.Steps;
import org.rpctlsservd.rpc.AsyncRpcClient;
import org.rpctlsservd.rpc.gen.rpctlscd;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlscd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_disconnect_res;
import org.rpctlsservd.rpc.gen.rpctlscd_handlerecord_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_handlerecord_res;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.sessions.Session;
import org.rpctlsservd.support.TestPki;

/**
 * RPCTLSCD on rpc.tlsclntd's Unix-domain socket, with the daemon's own client engine (-l: the
 * server's certificate checked) and a real TLS server (the JDK's) on loopback at the other end of
 * each parked socket.
 */
class RpctlscdServiceTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final TestPki.Ca ca = TestPki.ca("CA");
    private final List<AutoCloseable> closing = new ArrayList<>();
    private Daemon daemon;
    private AsyncRpcClient upcalls;
    private Path crlFile;

    @BeforeEach
    void start() throws Exception {
        crlFile = tmp.resolve("crl.pem");
        Path caFile = tmp.resolve("ca.pem");
        Files.writeString(caFile, TestPki.pem(ca.cert()));
        Files.writeString(crlFile, TestPki.pem(ca.crl()));
        var config = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org", h -> null)
                .parse(new String[] {"-N", "2", "-l", caFile.toString(), "-r", crlFile.toString(), "--handshake-timeout", "3", "--no-rpcbind",
                        "--rpc-socket", tmp.resolve("cd.sock").toString()});
        daemon = Daemon.startClient(config);
        upcalls = new AsyncRpcClient(UnixDomainSocketAddress.of(config.rpcSocket()), rpctlscd.RPCTLSCD, rpctlscd.RPCTLSCDVERS, timer);
    }

    @AfterEach
    void stop() throws Exception {
        upcalls.close();
        daemon.close();
        for (AutoCloseable c : closing) {
            c.close();
        }
        timer.shutdownNow();
    }

    /** An SSLContext with {@code own}'s key (null: none) trusting {@code trusted}. */
    private static SSLContext context(TestPki.Issued own, TestPki.Issued trusted) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        if (own != null) {
            ks.setKeyEntry("own", own.privateKey(), new char[0], own.jcaChain());
        }
        ks.setCertificateEntry("ca", trusted.jcaChain()[0]);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext c = SSLContext.getInstance("TLSv1.3");
        c.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return c;
    }

    /** Handshakes the servers completed, each done when its client closed or shut its side (EOF or an error). */
    private final List<CompletableFuture<Void>> ended = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * A TLS server on loopback with {@code cert}, which completes one handshake per connection and
     * then reads until the client ends it (noted in {@link #ended}).
     */
    private InetSocketAddress tlsServer(TestPki.Issued cert) throws Exception {
        SSLServerSocket ss = (SSLServerSocket) context(cert, ca.self).getServerSocketFactory()
                .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
        closing.add(ss);
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try {
                    SSLSocket s = (SSLSocket) ss.accept();
                    closing.add(s);
                    s.setSoTimeout(30_000);
                    s.startHandshake();
                    CompletableFuture<Void> end = new CompletableFuture<>();
                    ended.add(end);
                    Thread reader = new Thread(() -> {
                        try {
                            while (s.getInputStream().read() >= 0) {
                                // nothing is sent in these tests
                            }
                        } catch (IOException gone) {
                            // ended all the same
                        }
                        end.complete(null);
                    }, "tls-server-read");
                    reader.setDaemon(true);
                    reader.start();
                } catch (IOException e) {
                    // a refused handshake, or the end of the test
                }
            }
        }, "tls-server");
        t.setDaemon(true);
        t.start();
        return (InetSocketAddress) ss.getLocalSocketAddress();
    }

    /** ClientHellos the silent server has had. */
    private final java.util.concurrent.Semaphore hellos = new java.util.concurrent.Semaphore(0);

    /** A server that accepts, reads the ClientHello's first byte and never answers it. */
    private InetSocketAddress silentServer() throws Exception {
        ServerSocket ss = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        closing.add(ss);
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket s = ss.accept();
                    closing.add(s);
                    if (s.getInputStream().read() == 22) { // a TLS handshake record
                        hellos.release();
                    }
                } catch (IOException e) {
                    // the end of the test
                }
            }
        }, "silent-server");
        t.setDaemon(true);
        t.start();
        return (InetSocketAddress) ss.getLocalSocketAddress();
    }

    /** Connects to {@code server} and parks the socket as the connector does, for {@code name}. */
    private long parkConnected(InetSocketAddress server, String name) throws Exception {
        SocketChannel ch = SocketChannel.open(server);
        closing.add(ch);
        return daemon.handoff().parkForServer(ch, name);
    }

    private rpctlscd_connect_res connect(long cookie) throws Exception {
        rpctlscd_connect_arg a = new rpctlscd_connect_arg();
        a.socookie = cookie;
        a.certname = "";
        return upcalls.call(rpctlscd.RPCTLSCD_CONNECT_2, a, rpctlscd_connect_res::new, WAIT).get(15, TimeUnit.SECONDS);
    }

    private int handleRecord(long cookie) throws Exception {
        rpctlscd_handlerecord_arg a = new rpctlscd_handlerecord_arg();
        a.socookie = cookie;
        return upcalls.call(rpctlscd.RPCTLSCD_HANDLERECORD_2, a, rpctlscd_handlerecord_res::new, WAIT).get(15, TimeUnit.SECONDS).reterr;
    }

    private int disconnect(long cookie) throws Exception {
        rpctlscd_disconnect_arg a = new rpctlscd_disconnect_arg();
        a.socookie = cookie;
        return upcalls.call(rpctlscd.RPCTLSCD_DISCONNECT_2, a, rpctlscd_disconnect_res::new, WAIT).get(15, TimeUnit.SECONDS).reterr;
    }

    @Test
    void connectAnswersOkAndEntersTheSession() throws Exception {
        long cookie = parkConnected(tlsServer(ca.leaf("server").dns("localhost").issue()), "localhost");
        assertEquals(rpctlssd.RPCTLSERR_OK, connect(cookie).reterr);
        assertNotNull(daemon.sessions().get(cookie), "the session is in the table once CONNECT has answered");
        assertEquals(0, handleRecord(cookie));
        assertEquals(0, disconnect(cookie));
        assertNull(daemon.sessions().get(cookie));
        assertEquals(rpctlssd.RPCTLSERR_NOCLOSE, disconnect(cookie), "second DISCONNECT");
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, handleRecord(cookie), "HANDLERECORD after DISCONNECT");
    }

    @Test
    void unknownCookieIsNoSocketAtOnce() throws Exception {
        long t0 = System.nanoTime();
        assertEquals(rpctlssd.RPCTLSERR_NOSOCKET, connect(0x1234_5678_9abc_def0L).reterr);
        assertTrue(Duration.ofNanos(System.nanoTime() - t0).toMillis() < 5000, "answered, not timed out");
    }

    @Test
    void failedHandshakeIsNoSslAtOnceAndClosesTheSocket() throws Exception {
        TestPki.Ca other = TestPki.ca("Other CA");
        SocketChannel ch = SocketChannel.open(tlsServer(other.leaf("server").dns("localhost").issue()));
        closing.add(ch);
        long cookie = daemon.handoff().parkForServer(ch, "localhost");
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, connect(cookie).reterr);
        assertFalse(ch.isOpen(), "the daemon closed the socket it took");
        assertNull(daemon.sessions().get(cookie));
        // a name the certificate does not carry fails as well
        long wrongName = parkConnected(tlsServer(ca.leaf("server").dns("localhost").issue()), "nfs.example.org");
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, connect(wrongName).reterr);
    }

    @Test
    void nullHandleRecordAndDisconnectAreAnsweredWhileHandshakesRun() throws Exception {
        InetSocketAddress silent = silentServer();
        List<CompletableFuture<rpctlscd_connect_res>> pending = new ArrayList<>();
        for (int i = 0; i < 2; i++) { // every worker (-N 2) held by a handshake that gets no answer
            rpctlscd_connect_arg a = new rpctlscd_connect_arg();
            a.socookie = parkConnected(silent, "localhost");
            a.certname = "";
            pending.add(upcalls.call(rpctlscd.RPCTLSCD_CONNECT_2, a, rpctlscd_connect_res::new, Duration.ofSeconds(30)));
        }
        assertTrue(hellos.tryAcquire(2, 10, TimeUnit.SECONDS), "both handshakes sent their ClientHello");
        upcalls.call(rpctlscd.RPCTLSCD_NULL_2, XdrVoid.XDR_VOID, XdrVoid::new, WAIT).get(5, TimeUnit.SECONDS);
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, handleRecord(42));
        assertEquals(rpctlssd.RPCTLSERR_NOCLOSE, disconnect(42));
        assertTrue(pending.stream().noneMatch(CompletableFuture::isDone), "the handshakes still run");
        for (CompletableFuture<rpctlscd_connect_res> f : pending) {
            assertEquals(rpctlssd.RPCTLSERR_NOSSL, f.get(20, TimeUnit.SECONDS).reterr, "the handshake's deadline ends it with NOSSL");
        }
    }

    /** SIGHUP applies a changed --log-level here too; a file that cannot be read keeps the level in force and fails the reload. */
    @Test
    void sighupAppliesAChangedLogLevel() throws Exception {
        Path conf = tmp.resolve("clntd.conf");
        Files.writeString(conf, "log-level = debug\n");
        Cli cli = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org", h -> null);
        String[] args = {"-N", "2", "-l", tmp.resolve("ca.pem").toString(), "-r", crlFile.toString(), "--handshake-timeout", "3",
            "--no-rpcbind", "--rpc-socket", tmp.resolve("cd.sock").toString(), "--config", conf.toString()};
        java.util.logging.Logger own = java.util.logging.Logger.getLogger("org.rpctlsservd");
        java.util.logging.Level was = own.getLevel();
        try (org.rpctlsservd.support.LogCapture log = org.rpctlsservd.support.LogCapture.daemon()) {
            daemon.rereadConfigWith(() -> cli.parse(args));
            reloadAndWait();
            assertEquals(0, daemon.failedReloads());
            assertTrue(log.has("reloaded the log level: debug"), log.lines().toString());
            assertEquals(java.util.logging.Level.FINE, own.getLevel(), "the daemon's lines at debug from now on");

            Files.writeString(conf, "log-level = loud\n");
            reloadAndWait();
            assertEquals(1, daemon.failedReloads(), "a file that cannot be parsed fails the reload");
            assertTrue(log.lines().stream().anyMatch(l -> l.startsWith("reload: cannot read the configuration, keeping the log level in force")),
                    log.lines().toString());
            assertEquals(java.util.logging.Level.FINE, own.getLevel(), "kept");

            Files.writeString(conf, "log-level = info\nidle-timeout = 9\n");
            reloadAndWait();
            assertTrue(log.has("reloaded the log level: info"), log.lines().toString());
            assertEquals(java.util.logging.Level.INFO, own.getLevel());
            assertTrue(log.has("reload: the configuration changes idle-timeout, which only a restart applies"), log.lines().toString());
        } finally {
            own.setLevel(was);
        }
    }

    private void reloadAndWait() {
        int before = daemon.reloads();
        daemon.reload(); // what SIGHUP does
        org.rpctlsservd.support.Await.until(() -> daemon.reloads() > before, "the reload", 10);
    }

    @Test
    void sighupReadsTheCrlAgainForNewHandshakes() throws Exception {
        TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
        InetSocketAddress at = tlsServer(server);
        assertEquals(rpctlssd.RPCTLSERR_OK, connect(parkConnected(at, "localhost")).reterr, "not revoked yet");
        // the server side notes the session once its own handshake returns, which can be after the client's
        org.rpctlsservd.support.Await.until(() -> !ended.isEmpty(), "the server's side of the session", 10);
        CompletableFuture<Void> live = ended.get(0);
        assertFalse(live.isDone(), "the session runs");
        ca.revoke(server.cert().getSerialNumber());
        Files.writeString(crlFile, TestPki.pem(ca.crl()));
        int before = daemon.reloads();
        daemon.reload(); // what SIGHUP does
        org.rpctlsservd.support.Await.until(() -> daemon.reloads() > before, "the reload", 10);
        assertEquals(0, daemon.failedReloads());
        live.get(10, TimeUnit.SECONDS); // the live session to the revoked server is shut off, as FreeBSD's rpctls_checkcrl does
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, connect(parkConnected(at, "localhost")).reterr, "revoked by the CRL read again");
        InetSocketAddress other = tlsServer(ca.leaf("other").dns("localhost").issue());
        assertEquals(rpctlssd.RPCTLSERR_OK, connect(parkConnected(other, "localhost")).reterr, "a certificate not revoked still passes");
    }
}
