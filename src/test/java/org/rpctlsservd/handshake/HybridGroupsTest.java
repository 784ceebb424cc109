package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Vector;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.tls.DefaultTlsClient;
import org.bouncycastle.tls.NamedGroup;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.ServerOnlyTlsAuthentication;
import org.bouncycastle.tls.TlsAuthentication;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsServerCertificate;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.daemon.TlsSetup;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * Hybrid post-quantum key exchange with Bouncy Castle TLS clients that offer X25519MLKEM768
 * alone, with x25519, or x25519 alone, and one that supports the hybrid but sends only an x25519
 * key share (the server prefers the hybrid, so it asks for it with a HelloRetryRequest).
 */
class HybridGroupsTest {
    /** RFC 8446 4.1.3: the ServerHello random that marks a HelloRetryRequest. */
    static final byte[] HRR_RANDOM = HexFormat.of().parseHex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    @TempDir
    Path tmp;
    TlsHarness h;

    @AfterEach
    void stop() throws IOException {
        if (h != null) {
            h.close();
        }
    }

    /** A TLS 1.3 client with these supported groups and early key shares, recording what the server sent. */
    static final class Client extends DefaultTlsClient {
        final int[] supported;
        final int[] shares;

        Client(int[] supported, int[] shares) {
            super(new BcTlsCrypto(new SecureRandom()));
            this.supported = supported;
            this.shares = shares;
        }

        @Override
        protected ProtocolVersion[] getSupportedVersions() {
            return ProtocolVersion.TLSv13.only();
        }

        @Override
        @SuppressWarnings("rawtypes")
        protected Vector getSupportedGroups(Vector namedGroupRoles) {
            return vector(supported);
        }

        @Override
        @SuppressWarnings("rawtypes")
        public Vector getEarlyKeyShareGroups() {
            return vector(shares);
        }

        private static Vector<Integer> vector(int[] groups) {
            Vector<Integer> v = new Vector<>();
            for (int g : groups) {
                v.add(g);
            }
            return v;
        }

        @Override
        public TlsAuthentication getAuthentication() {
            return new ServerOnlyTlsAuthentication() {
                @Override
                public void notifyServerCertificate(TlsServerCertificate c) {
                    // the test checks the key exchange, not the server's name
                }
            };
        }

        int negotiatedGroup() {
            return context.getSecurityParametersConnection().getNegotiatedGroup();
        }
    }

    /** Bytes as they arrive, kept. */
    static final class Recording extends FilterInputStream {
        final ByteArrayOutputStream seen = new ByteArrayOutputStream();

        Recording(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                seen.write(b);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                seen.write(b, off, n);
            }
            return n;
        }

        boolean sawHelloRetryRequest() {
            byte[] all = seen.toByteArray();
            outer:
            for (int i = 0; i + HRR_RANDOM.length <= all.length; i++) {
                for (int j = 0; j < HRR_RANDOM.length; j++) {
                    if (all[i + j] != HRR_RANDOM[j]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        }
    }

    record Outcome(rpctlssd_connect_res result, Client client, Recording wire, Exception clientError) {
    }

    Outcome handshake(int[] supported, int[] shares) throws Exception {
        Client client = new Client(supported, shares);
        Recording[] wire = new Recording[1];
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try {
                Socket s = new Socket("127.0.0.1", h.listenPort());
                s.setSoTimeout(20_000);
                wire[0] = new Recording(s.getInputStream());
                new TlsClientProtocol(wire[0], s.getOutputStream()).connect(client);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long cookie = h.acceptAndPark();
        rpctlssd_connect_res res = null;
        try {
            res = h.connect(cookie);
        } catch (Exception e) {
            // a failed handshake is SYSTEM_ERR; the client's error says why
        }
        Exception clientError = null;
        try {
            done.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            clientError = (Exception) e.getCause();
        }
        return new Outcome(res, client, wire[0], clientError);
    }

    void start(String... args) throws Exception {
        TestPki.Ca ca = TestPki.ca("PQ CA");
        h = new TlsHarness(tmp, ca, ca.leaf("server").dns("localhost").issue(), args);
    }

    static final int HYBRID = NamedGroup.X25519MLKEM768;
    static final int X25519 = NamedGroup.x25519;

    @Test
    void aClientOfferingOnlyTheHybridGetsIt() throws Exception {
        start();
        try (LogCapture log = LogCapture.daemon()) {
            Outcome o = handshake(new int[] {HYBRID}, new int[] {HYBRID});
            assertEquals(null, o.clientError());
            assertNotNull(o.result());
            assertEquals(HYBRID, o.client().negotiatedGroup());
            assertFalse(o.wire().sawHelloRetryRequest());
            assertTrue(log.has("group=X25519MLKEM768"), "the audit line names the group: " + log.lines());
        }
    }

    @Test
    void aClientOfferingBothGetsTheHybridWithoutARetry() throws Exception {
        start();
        Outcome o = handshake(new int[] {HYBRID, X25519}, new int[] {HYBRID, X25519});
        assertNotNull(o.result(), String.valueOf(o.clientError()));
        assertEquals(HYBRID, o.client().negotiatedGroup());
        assertFalse(o.wire().sawHelloRetryRequest());
    }

    @Test
    void aClientOfferingOnlyX25519GetsX25519() throws Exception {
        start();
        Outcome o = handshake(new int[] {X25519}, new int[] {X25519});
        assertNotNull(o.result(), String.valueOf(o.clientError()));
        assertEquals(X25519, o.client().negotiatedGroup());
        assertFalse(o.wire().sawHelloRetryRequest());
    }

    @Test
    void aClientSupportingTheHybridWithOnlyAnX25519ShareIsAskedForTheHybrid() throws Exception {
        start();
        Outcome o = handshake(new int[] {X25519, HYBRID}, new int[] {X25519});
        assertNotNull(o.result(), String.valueOf(o.clientError()));
        assertTrue(o.wire().sawHelloRetryRequest(), "the server prefers the hybrid: a HelloRetryRequest");
        assertEquals(HYBRID, o.client().negotiatedGroup());
    }

    @Test
    void aBouncyCastleJsseClientGetsTheHybridToo() throws Exception {
        start();
        try (LogCapture log = LogCapture.daemon()) {
            // JSSE offers ECDSA signatures only on curves it lists: secp256r1 for the server's P-256 certificate.
            TlsHarness.Attempt a = h.attempt(TlsHarness.bcClient(h.ca, "X25519MLKEM768:secp256r1"));
            assertEquals(1, a.flags());
            assertTrue(log.has("group=X25519MLKEM768"), log.lines().toString());
        }
    }

    @Test
    void groupsChangeTheListAndItsOrder() throws Exception {
        start("--groups", "x25519:secp256r1");
        Outcome classical = handshake(new int[] {HYBRID, X25519}, new int[] {HYBRID, X25519});
        assertNotNull(classical.result(), String.valueOf(classical.clientError()));
        assertEquals(X25519, classical.client().negotiatedGroup(), "the hybrid is not on the list");
        Outcome hybridOnly = handshake(new int[] {HYBRID}, new int[] {HYBRID});
        assertEquals(null, hybridOnly.result(), "no common group: the handshake fails");
        assertNotNull(hybridOnly.clientError());
    }

    @Test
    void unknownGroupNamesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TlsPolicy.parseGroups("x25519:x99999"));
        assertTrue(e.getMessage().startsWith("unknown group `x99999' (known: X25519MLKEM768:SecP256r1MLKEM768:"), e.getMessage());
        assertEquals(NamedGroup.secp256r1, TlsPolicy.parseGroups("P-256")[0]);
        assertEquals(HYBRID, TlsPolicy.parseGroups("x25519mlkem768")[0]);
        assertThrows(IllegalArgumentException.class, () -> TlsPolicy.parseGroups("x25519:X25519"));
        assertThrows(IllegalArgumentException.class, () -> TlsPolicy.parseGroups(":"));
    }

    @Test
    void anUnknownGroupStopsTheStartWithAClearMessage() throws Exception {
        org.rpctlsservd.cli.Config c = new org.rpctlsservd.cli.Cli("rpc.tlsservd", 2, "h.example.org", n -> null)
                .parse(new String[] {"--groups", "x25519:kyber"});
        TlsSetup.SetupException e = assertThrows(TlsSetup.SetupException.class, () -> TlsSetup.policy(c));
        assertTrue(e.getMessage().startsWith("Can't create SSL context: SSL_CTX_set1_groups_list failed: unknown group `kyber'"),
                e.getMessage());
    }
}
