package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.records.RecordLayer;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.ProcessText;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.StartTlsSplice;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The front end's TLS sessions on our record layer after the hand-over, driven by other TLS
 * stacks: OpenSSL's KeyUpdates (s_client's K and k), the JDK's (a low jdk.tls.keyLimits, in a JVM
 * of its own, since the JDK reads it once), each followed by 1 MiB each way; and a forged record,
 * which ends the connection with bad_record_mac and reaches nobody.
 */
class RecordLayerRelayTest {
    private static final TestPki.Ca CA = TestPki.ca("Record layer CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();
    static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    final ExecutorService threads = Executors.newCachedThreadPool();
    final List<AutoCloseable> toClose = new java.util.concurrent.CopyOnWriteArrayList<>(); // the splice's accept thread adds to it too
    BulkEcho backend;

    @BeforeEach
    void backend() throws IOException {
        backend = new BulkEcho(threads);
        toClose.add(backend);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        threads.shutdownNow();
    }

    @Test
    void openSslKeyUpdatesEachWayThenAMebibyteEachWay() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        Path msgs = tmp.resolve("msgs.txt");
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port())) {
            int port = StartTlsSplice.listen(h.port, threads, toClose);
            Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_3", "-brief",
                    "-servername", "localhost", "-CAfile", caFile.toString(), "-verify_return_error", "-msg", "-msgfile",
                    msgs.toString()).start();
            toClose.add(p::destroyForcibly);
            ProcessText err = new ProcessText(p.getErrorStream(), threads);
            DataInputStream fromServer = new DataInputStream(p.getInputStream());
            OutputStream toServer = p.getOutputStream();
            err.await("CONNECTION ESTABLISHED", 1);

            roundTrip(toServer, fromServer, 1, "before any KeyUpdate");
            // K: OpenSSL moves its sending key on and asks us to move ours (update_requested)
            toServer.write("K\n".getBytes(StandardCharsets.US_ASCII));
            toServer.flush();
            err.await("KEYUPDATE", 1);
            roundTrip(toServer, fromServer, 2, "after K");
            int oursAfterK = receivedKeyUpdates(msgs);
            assertEquals(1, oursAfterK, "our KeyUpdate answered the request\n" + Files.readString(msgs));
            // k: OpenSSL moves its sending key on, asking nothing
            toServer.write("k\n".getBytes(StandardCharsets.US_ASCII));
            toServer.flush();
            err.await("KEYUPDATE", 2);
            roundTrip(toServer, fromServer, 3, "after k");
            assertEquals(oursAfterK, receivedKeyUpdates(msgs), "no KeyUpdate of ours when none was asked for");
            assertEquals(2, Files.readAllLines(msgs).stream().filter(l -> l.startsWith(">>>") && l.contains("KeyUpdate")).count(),
                    "OpenSSL sent its two");
            toServer.close(); // s_client sends its close_notify and ends
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), err.text());
            assertEquals(3, backend.calls.get());
        }
    }

    @Test
    void theJdkClientsKeyLimitsThenAMebibyteEachWay() throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port())) {
            Path trust = tmp.resolve("trust.p12");
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("ca", new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(CA.cert()));
            try (OutputStream o = Files.newOutputStream(trust)) {
                ks.store(o, "changeit".toCharArray());
            }
            // a JVM of its own: the JDK reads the security property jdk.tls.keyLimits once, when its TLS code first loads
            Path security = Files.writeString(tmp.resolve("java.security"), "jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate 2^16\n");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), "-Djava.security.properties=" + security,
                    "-Djavax.net.debug=ssl:handshake", JdkKeyLimitsClient.class.getName(), String.valueOf(h.port), trust.toString())
                    .redirectErrorStream(true).start();
            toClose.add(p::destroyForcibly);
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.toString();
                }
            }, threads);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the JDK client ended");
            String log = out.get(10, TimeUnit.SECONDS);
            String tail = log.substring(Math.max(0, log.length() - 3000));
            assertEquals(0, p.exitValue(), tail);
            assertTrue(log.contains("RELAYED 2 MiB each way"), tail);
            // the JDK moved its keys on many times (every 64 KiB) and asked us to: our answers came back to it
            assertTrue(ProcessText.occurrences(log, "Produced KeyUpdate") >= 8, "the JDK's KeyUpdates: " + ProcessText.occurrences(log, "Produced KeyUpdate"));
            assertTrue(ProcessText.occurrences(log, "Consuming KeyUpdate") >= 8, "ours, consumed by the JDK: " + ProcessText.occurrences(log, "Consuming KeyUpdate"));
            assertEquals(2, backend.calls.get());
        }
    }

    /**
     * Both directions as the front end runs them once the native AES-GCM is ready: the client's
     * calls read into a direct buffer and opened there in place, the backend's replies read into a
     * direct buffer and sealed from it into a direct room, on libcrypto; the JDK client checks
     * every record and gets every byte back. Each TLS 1.3 suite: AES-GCM and ChaCha20-Poly1305.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
    void callsAreOpenedAndRepliesSealedInDirectBuffersAndArriveWhole(String suite) throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port())) {
            Socket raw = RawRpc.connect(h.port);
            toClose.add(raw);
            javax.net.ssl.SSLSocket ssl = FrontEndHarness.startTls(raw, h.port, TlsHarness.jdkClient(null, CA, "TLSv1.3"), x -> {
                javax.net.ssl.SSLParameters p = x.getSSLParameters();
                p.setCipherSuites(new String[] {suite});
                x.setSSLParameters(p);
            });
            ssl.setSoTimeout(20_000);
            OutputStream toServer = ssl.getOutputStream();
            DataInputStream fromServer = new DataInputStream(ssl.getInputStream());
            roundTrip(toServer, fromServer, 1, "the first call (its records load the native sealing where nothing had)");
            assertTrue(org.rpctlsservd.handshake.EstablishedSession.sealsDirect(), "the native sealing is ready here");
            long before = org.rpctlsservd.records.Providers.sealedDirect();
            long openedBefore = org.rpctlsservd.records.Providers.openedDirect();
            for (int xid = 2; xid <= 4; xid++) {
                roundTrip(toServer, fromServer, xid, "call " + xid);
            }
            long sealed = org.rpctlsservd.records.Providers.sealedDirect() - before;
            assertTrue(sealed >= 3 * MIB / RecordLayer.MAX_PLAINTEXT, "the replies' records were sealed natively: " + sealed);
            // the calls' records (3 MiB in 192) were opened in place natively, but those a read's end cut (opened on the heap)
            long opened = org.rpctlsservd.records.Providers.openedDirect() - openedBefore;
            assertTrue(opened >= MIB / RecordLayer.MAX_PLAINTEXT, "the calls' records were opened natively: " + opened);
            assertEquals(4, backend.calls.get());
        }
    }

    @Test
    void aForgedRecordEndsTheConnectionWithBadRecordMacAndReachesNobody() throws Exception {
        try (EchoBackend echo = new EchoBackend(); FrontEndHarness h = new FrontEndHarness(tmp, SERVER, echo.port());
                RawRpc t = h.tls(TlsHarness.jdkClient(null, CA, "TLSv1.3"))) {
            t.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
            assertEquals(0, t.read().stat, "the session relays");
            // a record of the right shape whose tag cannot be right, written under the client's TLS layer
            byte[] forged = new byte[5 + 200];
            new java.security.SecureRandom().nextBytes(forged);
            forged[0] = 23;
            forged[1] = 3;
            forged[2] = 3;
            forged[3] = 0;
            forged[4] = (byte) 200;
            h.rawSocketOf(t).getOutputStream().write(forged);
            SSLException e = assertThrows(SSLException.class, t::read);
            assertTrue(String.valueOf(e.getMessage()).contains("bad_record_mac"), String.valueOf(e));
            assertEquals(1, echo.calls.get(), "nothing of the forged record went on");
            FrontEndTest.assertNothingLeft(h);
        }
    }

    /** KeyUpdates OpenSSL received (from us), as its -msg lines say. */
    static int receivedKeyUpdates(Path msgs) throws IOException {
        return (int) Files.readAllLines(msgs).stream().filter(l -> l.startsWith("<<<") && l.contains("KeyUpdate")).count();
    }

    /**
     * One call of 1 MiB (bytes that s_client never takes for a command letter) and the backend's
     * echo of it, through s_client's standard input and output.
     */
    static void roundTrip(OutputStream toServer, DataInputStream fromServer, int xid, String when) throws IOException {
        byte[] payload = new byte[MIB];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) ((i * 7 + xid) % 61); // below 'K' (0x4b): no chunk of stdin starts with K, k, Q or R
        }
        byte[] call = RawRpc.call().xid(xid).prog(EchoBackend.PROGRAM).vers(1).proc(7).args(payload).bytes();
        toServer.write(ByteBuffer.allocate(4 + call.length).putInt(0x80000000 | call.length).put(call).array());
        toServer.flush();
        byte[] reply = RawRpc.readRecord(fromServer);
        assertEquals(BulkEcho.HEADER + call.length, reply.length, when);
        assertEquals(xid, ByteBuffer.wrap(reply).getInt(), when);
        assertArrayEquals(call, java.util.Arrays.copyOfRange(reply, BulkEcho.HEADER, reply.length), when);
    }

    /**
     * A plain backend that answers every call with an accepted, successful reply carrying the whole
     * call (so a 1 MiB call makes a 1 MiB reply): the bulk both ways that EchoBackend does not do.
     */
    static final class BulkEcho implements AutoCloseable {
        static final int HEADER = 24;
        final AtomicInteger calls = new AtomicInteger();
        private final ServerSocket listener;

        BulkEcho(ExecutorService threads) throws IOException {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.submit(() -> {
                while (!listener.isClosed()) {
                    Socket s = listener.accept();
                    threads.submit(() -> serve(s));
                }
                return null;
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        private Void serve(Socket s) {
            try (RawRpc r = new RawRpc(s)) {
                while (true) {
                    byte[] call = r.readRecord();
                    calls.incrementAndGet();
                    int xid = ByteBuffer.wrap(call).getInt();
                    r.send(ByteBuffer.allocate(HEADER + call.length).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0)
                            .put(call).array());
                }
            } catch (IOException gone) {
                return null; // the front end closed the connection (or its health probe did)
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }
}
