package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * Below --require nothing but a NULL call reaches the backend: a client's reply to a backend
 * callback is dropped and opens no backend connection; and every refusal is a log line (rate
 * limited) naming the client, the call and what the connection lacks.
 */
class RefusalsTest {
    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Refusals CA");

    @TempDir
    Path tmp;

    /** A client's reply to a backend callback: xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS, a result. */
    private static byte[] reply(int xid) {
        return ByteBuffer.allocate(28).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).putInt(43).array();
    }

    /**
     * A backend that counts the connections made to it and keeps every record in arrival order; it
     * answers calls with SUCCESS (so a client can tell its call went through). Raw sockets: EchoBackend's
     * RPC server would ignore a reply without a trace.
     */
    static final class RecordingBackend implements Closeable {
        final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final AtomicInteger connections = new AtomicInteger();
        final BlockingQueue<byte[]> records = new LinkedBlockingQueue<>();
        private final ExecutorService threads = Executors.newCachedThreadPool();

        RecordingBackend() throws IOException {
            threads.submit(() -> {
                while (!server.isClosed()) {
                    Socket s;
                    try {
                        s = server.accept();
                    } catch (IOException closed) {
                        return;
                    }
                    connections.incrementAndGet();
                    threads.submit(() -> serve(s));
                }
            });
        }

        private void serve(Socket s) {
            try (RawRpc r = new RawRpc(s)) {
                while (true) {
                    byte[] rec = r.readRecord();
                    records.add(rec);
                    ByteBuffer b = ByteBuffer.wrap(rec);
                    int xid = b.getInt();
                    if (b.getInt() == 0) { // a call: SUCCESS, no result
                        r.send(ByteBuffer.allocate(24).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).array());
                    }
                }
            } catch (IOException gone) {
                // the front end closed this connection
            }
        }

        int port() {
            return server.getLocalPort();
        }

        /** The next record to arrive, within 20 s. */
        byte[] next() throws InterruptedException {
            byte[] rec = records.poll(20, TimeUnit.SECONDS);
            assertNotNull(rec, "no record reached the backend within 20 s");
            return rec;
        }

        @Override
        public void close() throws IOException {
            server.close();
            threads.shutdownNow();
        }
    }

    @Test
    void aPlainClientsReplyUnderRequireTlsNeverReachesTheBackendATlsClientsDoes() throws Exception {
        try (RecordingBackend backend = new RecordingBackend();
                LogCapture log = LogCapture.daemon();
                FrontEndHarness h = new FrontEndHarness(tmp, FX.server, backend.port(), "--require", "tls")) {
            RawRpc plain = h.plain();
            plain.send(reply(0xCB)); // its first record: today's relay would open a backend connection for it
            plain.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            FrontEndTest.assertAuthError(plain.read(), 5); // taken in order: the reply was dealt with before this
            assertEquals(0, backend.connections.get(), "the dropped reply opened no backend connection");
            plain.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).proc(0).bytes()); // NULL: relayed
            RawRpc.Reply r = plain.read();
            assertEquals(3, r.xid);
            FrontEndTest.assertSuccess(r);
            ByteBuffer first = ByteBuffer.wrap(backend.next());
            assertEquals(3, first.getInt(), "the first record the backend saw is the NULL call, not the reply");
            assertEquals(0, first.getInt(), "a CALL");
            assertEquals(1, backend.connections.get(), "one backend connection, made for the NULL call");

            String port = ":" + plain.socket().getLocalPort() + ": ";
            assertEquals(List.of("front end 127.0.0.1" + port + "reply to a backend callback dropped: client did not start TLS: --require tls"),
                    warnings(log, port + "reply"), log.lines().toString());

            RawRpc tls = h.tls(TlsHarness.jdkClient(null, FX.ca, "TLSv1.3"));
            tls.send(reply(0xCC)); // at the level: passes as before, and opens the connection itself
            assertArrayEquals(reply(0xCC), backend.next(), "the TLS client's reply reached the backend as sent");
            assertEquals(2, backend.connections.get());
            assertTrue(backend.records.isEmpty(), "nothing else went");
        }
    }

    @Test
    void aRefusedCallIsOneLineNamingTheClientTheCallAndWhy() throws Exception {
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--require", "tls");
                RawRpc c = h.plain()) {
            c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            FrontEndTest.assertAuthError(c.read(), 5);
            String port = ":" + c.socket().getLocalPort() + ": ";
            List<String> lines = warnings(log, port + "refused");
            assertEquals(List.of("front end 127.0.0.1" + port + "refused program " + 0x20000099 + " version 1 procedure 1: "
                    + "client did not start TLS: answered AUTH_TOOWEAK; --require tls"), lines, log.lines().toString());
            c.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            FrontEndTest.assertAuthError(c.read(), 5);
            assertEquals(lines, warnings(log, port + "refused"), "a second refusal within the interval: no second line");
            assertEquals(0, FX.backend().calls.get(), "nothing reached the backend");
        }
    }

    @Test
    void theLineSaysWhatTheCertificateLacks() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(FX.ca.cert()));
        TestPki.Ca other = TestPki.ca("Other CA");
        try (LogCapture log = LogCapture.daemon();
                FrontEndHarness h = FX.frontEnd(tmp, "--require", "certuser", "-m", "-l", caFile.toString(), "-u", "-n", "example.org")) {
            String[][] cases = {
                {null, "no client certificate: answered AUTH_TOOWEAK; --require certuser"},
                {"stranger", "certificate not verified: "},
                {"client", "certificate maps to no user: answered AUTH_TOOWEAK; --require certuser"},
            };
            for (String[] k : cases) {
                TestPki.Issued cert = k[0] == null ? null : k[0].equals("client") ? FX.client : other.leaf(k[0]).dns("localhost").issue();
                try (RawRpc c = h.tls(TlsHarness.jdkClient(cert, FX.ca, "TLSv1.3"))) {
                    c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                    FrontEndTest.assertAuthError(c.read(), 5);
                    String port = ":" + h.rawSocketOf(c).getLocalPort() + ": ";
                    List<String> lines = warnings(log, port + "refused");
                    assertEquals(1, lines.size(), log.lines().toString());
                    assertTrue(lines.get(0).startsWith("front end 127.0.0.1" + port + "refused program " + 0x20000099
                            + " version 1 procedure 1: " + k[1]), lines.get(0));
                }
            }
            String stranger = warnings(log, "certificate not verified: ").get(0);
            assertTrue(stranger.endsWith(": certificate not verified: self-signed certificate in certificate chain, not trusted here (issuer /CN=Other CA/O=rpc-tlsservd tests)"
                    + "; answered AUTH_TOOWEAK; --require certuser"),
                    "the check's own reason (an issuer not trusted here) is in the line: " + stranger);
        }
    }

    /** WARNING lines (printed without -v) containing {@code fragment}. */
    private static List<String> warnings(LogCapture log, String fragment) {
        return log.records().stream().filter(r -> r.getLevel() == Level.WARNING).map(LogRecord::getMessage)
                .filter(m -> m.contains(fragment)).toList();
    }
}
