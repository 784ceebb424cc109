package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * Records relayed under every AEAD suite the daemon offers, now that their ciphers run on the JDK
 * (RecordCrypto): a JDK client (an independent TLS implementation) sends a call of many records to a
 * backend that sends every record back, and must get the same bytes; a tampered record ends the
 * session with bad_record_mac.
 */
class RecordCryptoTest {
    static TestPki.Ca ca;
    static TestPki.Issued server;
    static ServerSocket echo;
    static ExecutorService backend = Executors.newCachedThreadPool();

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws IOException {
        ca = TestPki.ca("Record CA");
        server = ca.leaf("server").dns("localhost").issue();
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        backend.submit(() -> {
            while (!echo.isClosed()) {
                Socket s = echo.accept();
                backend.submit(() -> {
                    // sends every record back as it came: to the client it is a callback from the backend
                    try (RawRpc r = new RawRpc(s)) {
                        while (true) {
                            r.send(r.readRecord());
                        }
                    } catch (IOException gone) {
                        return null;
                    }
                });
            }
            return null;
        });
    }

    @AfterAll
    static void stop() throws IOException {
        echo.close();
        backend.shutdownNow();
    }

    @ParameterizedTest
    @CsvSource({
        "TLSv1.3, TLS_AES_128_GCM_SHA256",
        "TLSv1.3, TLS_AES_256_GCM_SHA384",
        "TLSv1.3, TLS_CHACHA20_POLY1305_SHA256",
        "TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLSv1.2, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    })
    void aCallOfManyRecordsComesBackIntact(String protocol, String suite) throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, server, echo.getLocalPort(), protocol.equals("TLSv1.2") ? "-2" : "-v")) {
            RawRpc t = h.tls(TlsHarness.jdkClient(null, ca, protocol), only(protocol, suite));
            SSLSocket ssl = (SSLSocket) t.socket();
            assertEquals(suite, ssl.getSession().getCipherSuite());
            for (int size : new int[] {0, 1, 16 * 1024 - 40, 300 * 1024}) {
                byte[] args = new byte[size];
                new Random(size).nextBytes(args);
                byte[] call = RawRpc.call().xid(size).prog(0x20000099).vers(1).proc(1).args(args).bytes();
                t.send(call);
                assertArrayEquals(call, t.readRecord(), size + " bytes of arguments");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
    void aForgedRecordEndsTheSessionWithBadRecordMac(String suite) throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, server, echo.getLocalPort())) {
            RawRpc t = h.tls(TlsHarness.jdkClient(null, ca, "TLSv1.3"), only("TLSv1.3", suite));
            SSLSocket ssl = (SSLSocket) t.socket();
            // an application-data record that no key made, written under the client's TLS layer
            byte[] forged = new byte[5 + 64];
            new Random(1).nextBytes(forged);
            forged[0] = 23;
            forged[1] = 3;
            forged[2] = 3;
            forged[3] = 0;
            forged[4] = 64;
            h.rawSocketOf(t).getOutputStream().write(forged);
            IOException e = assertThrows(IOException.class, () -> ssl.getInputStream().read());
            assertTrue(String.valueOf(e.getMessage()).contains("bad_record_mac"), String.valueOf(e));
        }
    }

    private static Consumer<SSLSocket> only(String protocol, String suite) {
        return ssl -> {
            ssl.setEnabledProtocols(new String[] {protocol});
            ssl.setEnabledCipherSuites(new String[] {suite});
        };
    }

    /**
     * A provider listed before the JDK's (as a java.security naming Bouncy Castle's first would be)
     * is not asked for the daemon's record ciphers: they come from SunJCE by name. The spy provider
     * counts who asks, then declines, so the asker falls through to the next provider; the JDK
     * client in this JVM asks by algorithm alone, which shows the spy is in the way.
     */
    @ParameterizedTest
    @CsvSource({"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"})
    void aProviderListedFirstIsNotAskedForTheDaemonsRecordCiphers(String suite) throws Exception {
        java.util.Set<String> askers = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.security.Provider spy = new java.security.Provider("RecordSpy", "1", "asks nothing of anyone") {
            {
                for (String algorithm : new String[] {"AES/GCM/NoPadding", "ChaCha20-Poly1305"}) {
                    putService(new Service(this, "Cipher", algorithm, "none", null, null) {
                        @Override
                        public Object newInstance(Object parameter) throws java.security.NoSuchAlgorithmException {
                            askers.add(Thread.currentThread().getName());
                            throw new java.security.NoSuchAlgorithmException("the spy declines");
                        }
                    });
                }
            }
        };
        java.security.Security.insertProviderAt(spy, 1);
        try (FrontEndHarness h = new FrontEndHarness(tmp, server, echo.getLocalPort())) {
            RawRpc t = h.tls(TlsHarness.jdkClient(null, ca, "TLSv1.3"), only("TLSv1.3", suite));
            byte[] call = RawRpc.call().xid(5).prog(0x20000099).vers(1).proc(1).args(new byte[100]).bytes();
            t.send(call);
            assertArrayEquals(call, t.readRecord());
        } finally {
            java.security.Security.removeProvider(spy.getName());
        }
        assertTrue(askers.contains(Thread.currentThread().getName()), "the client asked the spy first: " + askers);
        assertTrue(askers.stream().noneMatch(n -> n.startsWith("handshake-") || n.startsWith("frontend-io")),
                "the daemon's threads never asked it: " + askers);
    }
}
