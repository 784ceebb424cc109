package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.Haproxy;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The PROXY protocol with a real HAProxy: behind a balancer the client's own address (a client
 * bound to 127.0.0.9) stands for it in the audit line and in the header sent to the backend, where
 * a second HAProxy reads it; untrusted, bad, and missing headers are refused.
 */
class ProxyProtocolTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Proxy CA");
    static final TestPki.Ca ca = FX.ca;
    static final TestPki.Issued client = FX.client;
    static final String CLIENT_IP = "127.0.0.9";

    @TempDir
    Path tmp;

    /** A socket from 127.0.0.9 to {@code port}. */
    static Socket from(String ip, int port) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(ip), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(20_000);
        return s;
    }

    static RawRpc tlsThrough(int port, SSLContext ctx) throws IOException {
        Socket s = from(CLIENT_IP, port);
        SSLSocket ssl = FrontEndHarness.startTls(s, port, ctx, x -> { });
        return new RawRpc(ssl);
    }

    @Test
    void behindHaproxyTheClientsAddressStandsForItToTheDaemonAndTheBackend() throws Exception {
        try (Haproxy back = new Haproxy(tmp.resolve("back"), "accept-proxy", FX.backend().port(), "");
                LogCapture log = LogCapture.daemon();
                FrontEndHarness h = new FrontEndHarness(tmp, FX.server, back.port, "--accept-proxy-from", "127.0.0.1/32",
                        "--backend-proxy", "v2");
                Haproxy front = new Haproxy(tmp.resolve("front"), "", h.port, "send-proxy-v2");
                RawRpc c = tlsThrough(front.port, TlsHarness.jdkClient(client, ca, "TLSv1.3"))) {
            c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, c.read().stat);
            assertTrue(log.has("handshake peer=" + CLIENT_IP + ":"), "the audit line names the client, not HAProxy: " + log.lines());
            Await.until(() -> back.log().contains("proxied client=" + CLIENT_IP + ":"),
                    "the backend's HAProxy to read the client's address from our header: " + back.log());
        }
    }

    @Test
    void version1FromHaproxyToo() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--accept-proxy-from", "127.0.0.0/29");
                Haproxy front = new Haproxy(tmp.resolve("front"), "", h.port, "send-proxy");
                RawRpc c = tlsThrough(front.port, TlsHarness.jdkClient(null, ca, "TLSv1.3"))) {
            c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, c.read().stat);
            assertTrue(log.has("handshake peer=" + CLIENT_IP + ":"), log.lines().toString());
        }
    }

    static boolean closedByPeer(Socket s) {
        try {
            InputStream in = s.getInputStream();
            return in.read() < 0;
        } catch (IOException e) {
            return true;
        }
    }

    @Test
    void aHeaderFromAnUntrustedAddressIsNotBelieved() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--accept-proxy-from", "127.0.0.1/32");
                Socket s = from(CLIENT_IP, h.port)) {
            s.getOutputStream().write("PROXY TCP4 10.1.2.3 127.0.0.1 1111 2049\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(closedByPeer(s));
            assertTrue(log.has("a PROXY header from an address --accept-proxy-from does not name: not believed, closed"),
                    log.lines().toString());
        }
    }

    @Test
    void aTrustedPeerMustSendAGoodHeaderInTime() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--accept-proxy-from", "127.0.0.1",
                        "--proxy-header-timeout", "0.5")) {
            try (Socket bad = from("127.0.0.1", h.port)) {
                byte[] probe = FrontEndHarness.probe(1);
                bad.getOutputStream().write(ByteBuffer.allocate(4 + probe.length).putInt(0x80000000 | probe.length).put(probe).array());
                assertTrue(closedByPeer(bad), "an RPC record where the header belongs");
            }
            assertTrue(log.has("bad PROXY header: no PROXY protocol signature"), log.lines().toString());
            try (Socket slow = from("127.0.0.1", h.port)) {
                slow.getOutputStream().write("PROXY TCP4 10.1.2.3".getBytes(StandardCharsets.US_ASCII));
                long t0 = System.nanoTime();
                assertTrue(closedByPeer(slow), "a header never finished");
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
            }
            Await.until(() -> log.has("closing: no PROXY header in time"), "the slow header's line");
            try (Socket truncated = from("127.0.0.1", h.port)) {
                truncated.getOutputStream().write("PROXY TCP4 10.1.2.3 10.9.9.9 1 2049 extra\r\n".getBytes(StandardCharsets.US_ASCII));
                assertTrue(closedByPeer(truncated));
            }
            assertTrue(log.has("closing: bad PROXY header: malformed version 1 header"), log.lines().toString());
        }
    }

    /** A backend that reads the PROXY v2 header itself (as the specification lays it out), then relays to the echo backend. */
    static final class HeaderReadingBackend implements AutoCloseable {
        final ServerSocket ss = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        final CompletableFuture<Map<Integer, byte[]>> tlvs = new CompletableFuture<>();
        final CompletableFuture<String> source = new CompletableFuture<>();

        HeaderReadingBackend(int echoPort) throws IOException {
            Thread t = new Thread(() -> {
                try (Socket in = ss.accept(); Socket out = new Socket("127.0.0.1", echoPort)) {
                    DataInputStream d = new DataInputStream(in.getInputStream());
                    byte[] head = new byte[16];
                    d.readFully(head);
                    int len = ByteBuffer.wrap(head).getShort(14) & 0xffff;
                    byte[] body = new byte[len];
                    d.readFully(body);
                    ByteBuffer b = ByteBuffer.wrap(body);
                    byte[] src = new byte[4];
                    b.get(src);
                    b.position(12);
                    source.complete(InetAddress.getByAddress(src).getHostAddress());
                    Map<Integer, byte[]> m = new HashMap<>();
                    while (b.hasRemaining()) {
                        int type = b.get() & 0xff;
                        byte[] v = new byte[b.getShort() & 0xffff];
                        b.get(v);
                        m.put(type, v);
                    }
                    tlvs.complete(m);
                    pump(out.getInputStream(), in.getOutputStream());
                    pump(in.getInputStream(), out.getOutputStream()).join();
                } catch (IOException e) {
                    tlvs.completeExceptionally(e);
                }
            }, "header-reading-backend");
            t.setDaemon(true);
            t.start();
        }

        static CompletableFuture<Void> pump(InputStream from, OutputStream to) {
            return CompletableFuture.runAsync(() -> {
                try {
                    from.transferTo(to);
                } catch (IOException e) {
                    // one side closed
                }
            });
        }

        @Override
        public void close() throws IOException {
            ss.close();
        }
    }

    @Test
    void version2TellsTheBackendAboutTheClientsTls() throws Exception {
        Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (HeaderReadingBackend back = new HeaderReadingBackend(FX.backend().port());
                FrontEndHarness h = new FrontEndHarness(tmp, FX.server, back.ss.getLocalPort(), "-m", "-l", tmp.resolve("ca.pem").toString(),
                        "--backend-proxy", "v2");
                RawRpc c = h.tls(TlsHarness.jdkClient(client, ca, "TLSv1.3"), "sunrpc")) {
            c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, c.read().stat, "relayed through the header-reading backend");
            Map<Integer, byte[]> tlv = back.tlvs.get(10, TimeUnit.SECONDS);
            assertEquals("127.0.0.1", back.source.get());
            assertEquals("sunrpc", new String(tlv.get(0x01), StandardCharsets.US_ASCII), "PP2_TYPE_ALPN");
            ByteBuffer ssl = ByteBuffer.wrap(tlv.get(0x20));
            assertEquals(0x07, ssl.get(), "PP2_CLIENT_SSL, CERT_CONN and CERT_SESS");
            assertEquals(0, ssl.getInt(), "verify 0: the certificate verified");
            Map<Integer, String> sub = new HashMap<>();
            while (ssl.hasRemaining()) {
                int type = ssl.get() & 0xff;
                byte[] v = new byte[ssl.getShort() & 0xffff];
                ssl.get(v);
                sub.put(type, new String(v, StandardCharsets.UTF_8));
            }
            assertEquals("TLSv1.3", sub.get(0x21), "PP2_SUBTYPE_SSL_VERSION");
            assertEquals("client", sub.get(0x22), "PP2_SUBTYPE_SSL_CN");
        }
    }
}
