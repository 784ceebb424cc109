package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.TestPki;

/**
 * The TLS 1.2 hand-over between our own engines (ServerTls with -2, ClientTls with -2), with an EC
 * and an RSA server key (so each key exchange's GCM suite): the server's session goes to our record
 * layer, the client's too or stays on Bouncy Castle's records (then Bouncy Castle's TlsAEADCipher,
 * an implementation independent of ours, checks what ours seals and seals what ours opens), and
 * data goes both ways at the sequence numbers the Finished left, then the server's close_notify.
 */
class Tls12HandOverTest {
    static final TestPki.Ca CA = TestPki.ca("TLS 1.2 hand-over CA");

    @TempDir
    Path tmp;

    HandshakeWorkers workers;
    ScheduledExecutorService timer;
    final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void pools() {
        workers = new HandshakeWorkers(2, 64);
        timer = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        timer.shutdownNow();
        workers.close();
    }

    @ParameterizedTest(name = "{0} key, client on our layer: {1}")
    @CsvSource({"ec, true", "ec, false", "rsa, true", "rsa, false"})
    void bothWaysOnOurLayerAgainstOursOrBouncyCastles(String key, boolean clientHandsOver) throws Exception {
        TestPki.Builder b = CA.leaf("server").dns("localhost");
        TestPki.Issued server = ("rsa".equals(key) ? b.rsa() : b).issue();
        TlsPolicy p = new TlsPolicy(true, TlsPolicy.DEFAULT_TLS13, false, Duration.ofSeconds(10), false, false, Config.NO_WILDCARDS, false,
                "@example.org", false, TlsPolicy.DEFAULT_GROUPS);
        ServerTls st = ServerTls.start(p, ServerCredentials.of(server.chain(), PrivateKeyInfo.getInstance(server.privateKey().getEncoded()), "test"),
                null, null, timer);
        toClose.add(st);
        ClientTls ct = ClientTls.start(new ClientPolicy(true, null, false, false, tmp.toString(), Duration.ofSeconds(10)), null, timer);
        toClose.add(ct);
        if (!clientHandsOver) {
            ((ClientEngine) ct).keepRecordsOnBouncyCastle();
        }
        SocketChannel[] ch = pair();
        CompletableFuture<HandshakeOutcome> sf = new CompletableFuture<>();
        CompletableFuture<HandshakeOutcome> cf = new CompletableFuture<>();
        assertTrue(workers.submit(() -> st.handshake(ch[1], null, 2, workers.executor(), System.nanoTime())
                .whenComplete((o, e) -> complete(sf, o, e))));
        assertTrue(workers.submit(() -> ct.connect(ch[0], "localhost", "", 1, workers.executor(), System.nanoTime())
                .whenComplete((o, e) -> complete(cf, o, e))));
        TlsSession client = (TlsSession) cf.get(10, TimeUnit.SECONDS).session();
        TlsSession srv = (TlsSession) sf.get(10, TimeUnit.SECONDS).session();
        assertEquals("TLSv1.2", srv.version());
        assertTrue(srv.recordsHandedOver(), "the server's TLS 1.2 session is on our layer");
        assertEquals(clientHandsOver, client.recordsHandedOver());

        byte[] up = TrafficStateTest.text("client to server", 100_000);
        write(ch[0], TrafficStateTest.encrypt(client, up));
        assertArrayEquals(up, TrafficStateTest.receive(srv, ch[1], up.length));
        byte[] down = TrafficStateTest.text("server to client", 70_000);
        write(ch[1], TrafficStateTest.encrypt(srv, down));
        assertArrayEquals(down, TrafficStateTest.receive(client, ch[0], down.length));
        byte[] up2 = TrafficStateTest.text("and again", 5);
        write(ch[0], TrafficStateTest.encrypt(client, up2));
        assertArrayEquals(up2, TrafficStateTest.receive(srv, ch[1], up2.length));

        srv.disconnect();
        ByteArrayOutputStream afterClose = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        Await.until(() -> {
            try {
                buf.clear();
                int n = ch[0].read(buf);
                return n > 0 && client.decrypt(buf.flip(), afterClose::write, (x, off, len) -> { }) || n < 0;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, "the server's close_notify");
        assertEquals(0, afterClose.size());
        assertTrue(client.tlsClosed());
        assertThrows(IOException.class, () -> srv.encrypt(new byte[1], 0, 1, (x, off, len) -> { }), "nothing after our close_notify");
    }

    static void complete(CompletableFuture<HandshakeOutcome> f, HandshakeOutcome o, Throwable e) {
        if (e != null) {
            f.completeExceptionally(e);
        } else {
            f.complete(o);
        }
    }

    static void write(SocketChannel ch, byte[] b) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(b);
        Await.until(() -> {
            try {
                ch.write(bb);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return !bb.hasRemaining();
        }, "written");
    }

    SocketChannel[] pair() throws IOException {
        try (ServerSocketChannel l = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            SocketChannel c = SocketChannel.open(l.getLocalAddress());
            SocketChannel s = l.accept();
            toClose.add(c);
            toClose.add(s);
            return new SocketChannel[] {c, s};
        }
    }
}
