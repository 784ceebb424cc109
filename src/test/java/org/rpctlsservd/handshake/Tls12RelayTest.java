package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.ProcessText;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.StartTlsSplice;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * TLS 1.2 sessions (-2) through the daemon's front end are on our record layer after the hand-over
 * and relay 1 MiB each way with the bytes intact, against two independent TLS 1.2 stacks: the
 * JDK's client and OpenSSL's s_client, for each AEAD suite; a renegotiation is refused with
 * unexpected_message (Bouncy Castle's records would have warned no_renegotiation and gone on).
 */
class Tls12RelayTest {
    private static final TestPki.Ca CA = TestPki.ca("TLS 1.2 CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();
    static final int MIB = 1 << 20;
    static final int REPLY_HEADER = 24;

    @org.junit.jupiter.api.io.TempDir
    Path tmp;

    final ExecutorService threads = Executors.newCachedThreadPool();
    final List<AutoCloseable> toClose = new java.util.concurrent.CopyOnWriteArrayList<>(); // the splice's accept thread adds to it too
    ServerSocket backend;
    final AtomicInteger calls = new AtomicInteger();

    @BeforeEach
    void backend() throws IOException {
        // a plain backend answering each call with an accepted reply that carries the whole call: 1 MiB each way
        backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        toClose.add(backend);
        threads.submit(() -> {
            while (!backend.isClosed()) {
                Socket s = backend.accept();
                threads.submit(() -> {
                    try (RawRpc r = new RawRpc(s)) {
                        while (true) {
                            byte[] call = r.readRecord();
                            calls.incrementAndGet();
                            r.send(ByteBuffer.allocate(REPLY_HEADER + call.length).putInt(ByteBuffer.wrap(call).getInt()).putInt(1)
                                    .putInt(0).putInt(0).putInt(0).putInt(0).put(call).array());
                        }
                    } catch (IOException gone) {
                        return null;
                    }
                });
            }
            return null;
        });
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        threads.shutdownNow();
    }

    static byte[] call(int xid) {
        byte[] payload = new byte[MIB];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) ((i * 7 + xid) % 61); // below 'K': no chunk of s_client's stdin starts with a command letter
        }
        return RawRpc.call().xid(xid).prog(100003).vers(3).proc(7).args(payload).bytes();
    }

    static void checkReply(byte[] call, byte[] reply, String when) {
        assertEquals(REPLY_HEADER + call.length, reply.length, when);
        assertArrayEquals(call, java.util.Arrays.copyOfRange(reply, REPLY_HEADER, reply.length), when);
    }

    /** The daemon's TLS sessions now: each one's version and whether our record layer carries it. */
    static List<String> sessions(FrontEndHarness h) {
        List<String> s = new ArrayList<>();
        h.daemon.sessions().forEach(x -> {
            if (x instanceof TlsSession t) {
                s.add(t.version() + (t.recordsHandedOver() ? " ours" : " Bouncy Castle's"));
            }
        });
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"})
    void theJdkClientOverTls12(String suite) throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.getLocalPort(), "-2")) {
            RawRpc t = h.tls(TlsHarness.jdkClient(null, CA, "TLSv1.2"), s -> {
                s.setEnabledProtocols(new String[] {"TLSv1.2"});
                s.setEnabledCipherSuites(new String[] {suite});
            });
            javax.net.ssl.SSLSocket ssl = (javax.net.ssl.SSLSocket) t.socket();
            assertEquals("TLSv1.2", ssl.getSession().getProtocol());
            assertEquals(suite, ssl.getSession().getCipherSuite());
            for (int xid = 1; xid <= 2; xid++) {
                byte[] call = call(xid);
                t.send(call);
                checkReply(call, t.readRecord(), "call " + xid);
            }
            assertEquals(List.of("TLSv1.2 ours"), sessions(h));
            // a renegotiation the JDK starts (startHandshake only sends the ClientHello): our layer refuses it
            SSLException e = assertThrows(SSLException.class, () -> {
                ssl.startHandshake();
                t.readRecord();
            });
            assertTrue(String.valueOf(e.getMessage()).contains("unexpected_message"), String.valueOf(e));
            assertEquals(2, calls.get(), "nothing after the refused record went on");
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"ECDHE+AESGCM+AES128", "ECDHE+AESGCM+AES256", "ECDHE+CHACHA20"})
    void openSslOverTls12(String ciphers) throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        Path msgs = tmp.resolve("msgs.txt");
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.getLocalPort(), "-2")) {
            int port = StartTlsSplice.listen(h.port, threads, toClose);
            Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_2", "-cipher", ciphers,
                    "-brief", "-servername", "localhost", "-CAfile", caFile.toString(), "-verify_return_error", "-msg", "-msgfile",
                    msgs.toString()).start();
            toClose.add(p::destroyForcibly);
            ProcessText err = new ProcessText(p.getErrorStream(), threads);
            DataInputStream fromServer = new DataInputStream(p.getInputStream());
            OutputStream toServer = p.getOutputStream();
            // -brief's lines come in pieces: wait for the one that says the version (TLS 1.3 would leave this waiting, then failing)
            Await.until(() -> err.toString().contains("Protocol version: TLSv1.2\n"), "s_client connected with TLS 1.2: " + err);
            for (int xid = 1; xid <= 2; xid++) {
                byte[] call = call(xid);
                toServer.write(ByteBuffer.allocate(4 + call.length).putInt(0x80000000 | call.length).put(call).array());
                toServer.flush();
                checkReply(call, RawRpc.readRecord(fromServer), "call " + xid);
            }
            assertEquals(List.of("TLSv1.2 ours"), sessions(h));
            // R: s_client renegotiates; our layer answers its ClientHello with a fatal unexpected_message
            toServer.write("R\n".getBytes(StandardCharsets.US_ASCII));
            toServer.flush();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), err.toString());
            String log = Files.readString(msgs);
            assertTrue(log.contains("fatal unexpected_message"), log);
            assertEquals(2, calls.get());
        }
    }
}
