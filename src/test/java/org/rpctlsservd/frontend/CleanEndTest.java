package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TlsHarness;

/**
 * A side that ends cleanly (its EOF, or its close_notify) loses nothing already taken: what the
 * front end queued still goes to the other side, as a kernel's socket buffers would still deliver
 * it, before the connection ends. Each test holds the receiving side still (a small receive
 * buffer, nothing read) until the front end has seen the end, with half a MiB more sent than the
 * kernel's send buffer takes while nothing is read ({@link #absorbed}: about 2.9 MB here), which is
 * less than that plus the front end's high-water mark (1 MiB): so the end comes while bytes wait
 * in the front end's queue (its log line says how many; the test checks). Before, they were dropped.
 */
class CleanEndTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Clean End CA");

    @TempDir
    Path tmp;

    /** Half of what each test sends: half a MiB more than the kernel takes (each half under the front end's 4 MiB cap on a record). */
    static final int HALF = (absorbed() + 512 * 1024) / 2;
    static final Pattern ENDING = Pattern.compile(
            "^(front end|connector) .*: ending once what is queued has gone \\((\\d+) bytes for the client, (\\d+) for the (?:backend|server)\\): (.*)");

    @Test
    void repliesFollowedByTheBackendsCloseReachAClientThatWasNotReadingWholeThenCloseNotify() throws Exception {
        byte[] payload = pattern(HALF);
        try (ServerSocket backend = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, backend.getLocalPort())) {
            CompletableFuture<Void> served = replyThenClose(backend, payload);
            try (SSLSocket ssl = stillClient(h)) {
                RawRpc t = new RawRpc(ssl);
                t.send(FrontEndHarness.whoami(7, FrontEndHarness.authNone()).bytes());
                t.send(FrontEndHarness.whoami(8, FrontEndHarness.authNone()).bytes());
                served.get(30, TimeUnit.SECONDS);
                Matcher m = ending(log, "front end", "the backend closed the connection");
                assertTrue(Long.parseLong(m.group(2)) > 0, "the backend ended while replies waited in the front end: " + m.group());
                assertArrayEquals(reply(7, payload), t.readRecord(), "the first reply whole");
                assertArrayEquals(reply(8, payload), t.readRecord(), "the second reply whole");
                assertEquals(-1, ssl.getInputStream().read(), "then close_notify: the stream ended whole");
                FrontEndTest.assertNothingLeft(h);
            }
        }
    }

    @Test
    void callsSentBeforeCloseNotifyReachABackendThatWasNotReading() throws Exception {
        int calls = 12;
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        try (ServerSocket backend = new ServerSocket();
                LogCapture log = LogCapture.daemon()) {
            backend.setReceiveBufferSize(4096); // inherited by the accepted socket: the window the backend offers stays small
            backend.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
            // ports of any kind: a reserved one is closed with a reset, which drops what its kernel still holds (BackendConnect.abortive)
            try (FrontEndHarness h = FX.frontEnd(tmp, backend.getLocalPort(), "--backend-source-ports", "any");
                    RawRpc t = h.tls(TlsHarness.jdkClient(null, FX.ca, "TLSv1.3"))) {
                for (int i = 0; i < calls; i++) {
                    byte[] call = FrontEndHarness.whoami(100 + i, FrontEndHarness.authNone()).args(pattern(2 * HALF / calls)).bytes();
                    sent.write(ByteBuffer.allocate(4).putInt(0x80000000 | call.length).array());
                    sent.write(call);
                    t.send(call);
                }
                ((SSLSocket) t.socket()).shutdownOutput(); // close_notify right behind the calls
                try (Socket s = backend.accept()) {
                    Matcher m = ending(log, "front end", "its TLS peer sent close_notify");
                    assertTrue(Long.parseLong(m.group(3)) > 0, "the close_notify came while calls waited in the front end: " + m.group());
                    s.setSoTimeout(20_000);
                    assertArrayEquals(sent.toByteArray(), s.getInputStream().readAllBytes(), "every call whole and in order, then the end");
                }
                assertEquals(-1, t.socket().getInputStream().read(), "the client's close_notify answered");
                FrontEndTest.assertNothingLeft(h);
            }
        }
    }

    /**
     * A call the front end answers itself (a refused credential), in the same read as the client's
     * close_notify: the session has answered the close_notify, so the reply cannot go; it is dropped,
     * and the calls before it still reach the backend (it used to end the connection as a failed write).
     * The client sends more than the kernel and the front end's high-water mark hold, so the front end
     * stops reading it and later finds the last call and the close_notify together.
     */
    @Test
    void anOwnReplyToTheLastCallBeforeCloseNotifyDoesNotCutTheEnd() throws Exception {
        int calls = 48;
        int each = (absorbed() + 3 * 512 * 1024) / calls; // past the kernel's buffer and the front end's high-water mark
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        try (ServerSocket backend = new ServerSocket();
                LogCapture log = LogCapture.daemon()) {
            backend.setReceiveBufferSize(4096);
            backend.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
            try (FrontEndHarness h = FX.frontEnd(tmp, backend.getLocalPort(), "--backend-source-ports", "any");
                    RawRpc t = h.tls(TlsHarness.jdkClient(null, FX.ca, "TLSv1.3"))) {
                CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                    try {
                        for (int i = 0; i < calls; i++) {
                            byte[] call = FrontEndHarness.whoami(100 + i, FrontEndHarness.authNone())
                                    .args(pattern(each)).bytes();
                            sent.write(ByteBuffer.allocate(4).putInt(0x80000000 | call.length).array());
                            sent.write(call);
                            t.send(call);
                        }
                        // AUTH_TLS on a call other than the probe: refused by the front end itself (AUTH_BADCRED)
                        t.send(RawRpc.call().xid(999).proc(1).credRaw(RawRpc.opaqueAuth(7, new byte[0])).bytes());
                        ((SSLSocket) t.socket()).shutdownOutput();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                try (Socket s = backend.accept()) {
                    sending.get(30, TimeUnit.SECONDS); // all sent: the last call and the close_notify wait together
                    s.setSoTimeout(20_000);
                    assertArrayEquals(sent.toByteArray(), s.getInputStream().readAllBytes(), "every relayed call whole and in order");
                }
                ending(log, "front end", "its TLS peer sent close_notify");
                assertTrue(log.lines().stream().noneMatch(l -> l.contains("TLS write failed")), log.lines().toString());
                FrontEndTest.assertNothingLeft(h);
            }
        }
    }

    @Test
    void aClientThatNeverReadsIsClosedAfterTheWriteTimeoutWhenTheBackendHasEnded() throws Exception {
        try (ServerSocket backend = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, backend.getLocalPort(), "--write-timeout", "1")) {
            CompletableFuture<Void> served = replyThenClose(backend, pattern(HALF));
            try (SSLSocket ssl = stillClient(h)) {
                RawRpc t = new RawRpc(ssl);
                t.send(FrontEndHarness.whoami(7, FrontEndHarness.authNone()).bytes());
                t.send(FrontEndHarness.whoami(8, FrontEndHarness.authNone()).bytes());
                served.get(30, TimeUnit.SECONDS);
                assertTrue(Long.parseLong(ending(log, "front end", "the backend closed the connection").group(2)) > 0,
                        "the replies waited in the front end");
                // never read: the end waits for the client no longer than any write does
                Await.until(() -> log.has("closing: the client took no bytes for 1 s"), "closed after the write timeout", 30);
                FrontEndTest.assertNothingLeft(h);
            }
        }
    }

    /**
     * What a loopback socket's kernel takes, written without blocking, while its peer (a 4 KiB
     * receive buffer) reads nothing: the send buffer as it grows by itself. Measured, as it depends
     * on the kernel's settings: written until a hundred milliseconds pass with nothing more taken.
     */
    static int absorbed() {
        try (ServerSocketChannel ss = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                Socket peer = new Socket()) {
            peer.setReceiveBufferSize(4096);
            peer.connect(ss.getLocalAddress(), 5000);
            try (SocketChannel ch = ss.accept()) {
                ch.configureBlocking(false);
                ByteBuffer b = ByteBuffer.allocate(256 * 1024);
                int total = 0;
                for (int still = 0; still < 50 && total < 64 * 1024 * 1024; ) {
                    b.clear();
                    int n = ch.write(b);
                    total += n;
                    still = n == 0 ? still + 1 : 0;
                    if (n == 0) {
                        TimeUnit.MILLISECONDS.sleep(2); // the buffer grows as acknowledgements come: a pause to see whether it still does
                    }
                }
                return total;
            }
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("measuring a socket's send buffer", e);
        }
    }

    /**
     * The connector's side: the server's replies, then its close_notify, reach a plain client that
     * was not reading, whole, before the connector closes it. The server here is our front end,
     * ending cleanly in turn when its backend closes after the replies.
     */
    @Test
    void theServersLastRepliesAndCloseNotifyReachTheConnectorsPlainClientWhole() throws Exception {
        byte[] payload = pattern(HALF);
        Path caFile = java.nio.file.Files.writeString(tmp.resolve("ca.pem"), org.rpctlsservd.support.TestPki.pem(FX.ca.cert()));
        try (ServerSocket backend = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon();
                FrontEndHarness server = FX.frontEnd(tmp.resolve("s"), backend.getLocalPort())) {
            Config c = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "client.example.org", x -> null).parse(new String[] {"--no-rpcbind",
                    "--no-pidfile", "--rpc-socket", tmp.resolve("c.sock").toString(), "-l", caFile.toString(), "--io-threads", "1",
                    "--connect", "127.0.0.1:0,localhost:" + server.port});
            try (Daemon client = Daemon.startClient(c)) {
                CompletableFuture<Void> served = replyThenClose(backend, payload);
                try (Socket plain = new Socket()) {
                    plain.setReceiveBufferSize(4096); // before connecting: the window stays small
                    plain.connect(client.frontEnd().addresses().get(0), 5000);
                    plain.setSoTimeout(20_000);
                    RawRpc rpc = new RawRpc(plain);
                    rpc.send(FrontEndHarness.whoami(7, FrontEndHarness.authNone()).bytes());
                    rpc.send(FrontEndHarness.whoami(8, FrontEndHarness.authNone()).bytes());
                    served.get(30, TimeUnit.SECONDS);
                    Matcher m = ending(log, "connector", "its TLS peer sent close_notify");
                    assertTrue(Long.parseLong(m.group(2)) > 0,
                            "the server's close_notify came while replies waited in the connector: " + m.group());
                    assertArrayEquals(reply(7, payload), rpc.readRecord(), "the first reply whole");
                    assertArrayEquals(reply(8, payload), rpc.readRecord(), "the second reply whole");
                    assertEquals(-1, plain.getInputStream().read(), "then the connector closed the connection");
                    Await.until(() -> client.frontEnd().connectionCount() == 0, "the connector's connection gone", 10);
                    Await.until(() -> client.frontEnd().budget().used() == 0, "the connector's budget back to 0", 10);
                }
            }
            FrontEndTest.assertNothingLeft(server);
        }
    }

    /** A backend that answers two calls (xids 7 and 8) with {@code payload} each and closes the connection at once. */
    static CompletableFuture<Void> replyThenClose(ServerSocket backend, byte[] payload) {
        return CompletableFuture.runAsync(() -> {
            try (Socket s = backend.accept()) {
                DataInputStream in = new DataInputStream(s.getInputStream());
                RawRpc.readRecord(in);
                RawRpc.readRecord(in);
                writeRecord(s.getOutputStream(), reply(7, payload));
                writeRecord(s.getOutputStream(), reply(8, payload));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    /** A TLS client whose socket offers a small window, and which reads nothing until the test says. */
    static SSLSocket stillClient(FrontEndHarness h) throws Exception {
        Socket raw = new Socket();
        raw.setReceiveBufferSize(4096); // before connecting: the window stays small
        raw.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), h.port), 5000);
        SSLSocket ssl = FrontEndHarness.startTls(raw, h.port, TlsHarness.jdkClient(null, FX.ca, "TLSv1.3"), s -> { });
        ssl.setSoTimeout(20_000);
        return ssl;
    }

    /** The line of {@code who} ("front end", "connector") for the clean end with this reason, once it is logged. */
    static Matcher ending(LogCapture log, String who, String reason) {
        Matcher[] found = new Matcher[1];
        Await.until(() -> {
            for (String line : log.lines()) {
                Matcher m = ENDING.matcher(line);
                if (m.find() && m.group(1).equals(who) && m.group(4).equals(reason)) {
                    found[0] = m;
                    return true;
                }
            }
            return false;
        }, who + "'s clean end: " + reason, 30);
        return found[0];
    }

    /** An accepted RPC reply to {@code xid} (AUTH_NONE verifier, SUCCESS) with {@code results}: 24 bytes of header. */
    static byte[] reply(int xid, byte[] results) {
        return ByteBuffer.allocate(24 + results.length).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0)
                .put(results).array();
    }

    /** {@code record} record-marked in fragments of 64 KiB, in one write. */
    static void writeRecord(OutputStream out, byte[] record) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int at = 0; at < record.length; at += 65536) {
            int n = Math.min(65536, record.length - at);
            boolean last = at + n == record.length;
            b.write(ByteBuffer.allocate(4).putInt((last ? 0x80000000 : 0) | n).array());
            b.write(record, at, n);
        }
        out.write(b.toByteArray());
        out.flush();
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + (i >>> 11));
        }
        return b;
    }
}
