package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.tls.CipherSuite;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.TestPki;

/**
 * The hand-over's hard part: after a TLS 1.3 handshake between our two engines (ServerTls and
 * ClientTls, on loopback), {@link TlsSession#trafficState} gives each side's suite, secrets and
 * sequence numbers such that the JDK's own AEAD, keyed by RFC 8446 7.3 from those secrets alone,
 * opens the next record Bouncy Castle sends and makes one Bouncy Castle's peer accepts, in both
 * directions, for each TLS 1.3 suite; with the client's application data in its Finished's
 * flight, and after a KeyUpdate.
 */
class TrafficStateTest {
    static TestPki.Ca ca;
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

    static final byte HANDSHAKE = 22;
    static final byte APPLICATION_DATA = 23;

    @ParameterizedTest(name = "suite {0}")
    @ValueSource(ints = {CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256})
    void theJdkTakesOverBothDirectionsWhereBouncyCastleLeftOff(int suite) throws Exception {
        byte[] early1 = text("with the client's Finished, first", 100);
        byte[] early2 = text("with the client's Finished, second", 300);
        Sessions s = handshake(suite, early1, early2);

        // both records with the Finished were read with it and wait in the session, not in the socket (nor in Bouncy Castle:
        // the handshake offers it whole records only up to the Finished); the first decrypt offers them
        assertArrayEquals(concat(early1, early2), takeQueued(s.server), "the application data of the Finished's flight");
        assertEquals(0, s.clientCh.read(ByteBuffer.allocate(64)), "the server sent nothing after its Finished (no NewSessionTicket)");

        TrafficState server0 = s.server.trafficState();
        TrafficState client0 = s.client.trafficState();
        assertEquals(suite, server0.cipherSuite());
        assertEquals(suite, client0.cipherSuite());
        int hashLength = suite == CipherSuite.TLS_AES_256_GCM_SHA384 ? 48 : 32;
        assertEquals(hashLength, server0.readSecret().length);
        assertArrayEquals(client0.writeSecret(), server0.readSecret(), "c ap traffic, seen from both ends");
        assertArrayEquals(server0.writeSecret(), client0.readSecret(), "s ap traffic, seen from both ends");
        assertFalse(Arrays.equals(server0.readSecret(), server0.writeSecret()));
        assertEquals(2, server0.readSequence(), "the two records that came with the Finished");
        assertEquals(2, client0.writeSequence());
        assertEquals(0, server0.writeSequence());
        assertEquals(0, client0.readSequence());
        assertFalse(server0.keyUpdateOwed() || client0.keyUpdateOwed());

        // (a) the next record Bouncy Castle sends opens with the JDK at the state's sequence number; Bouncy Castle goes on
        byte[] down = text("server to client through Bouncy Castle", 500);
        byte[] record = encrypt(s.server, down);
        assertArrayEquals(inner(down, APPLICATION_DATA), open(suite, server0.writeSecret(), server0.writeSequence(), record));
        s.serverCh.write(ByteBuffer.wrap(record));
        assertArrayEquals(down, receive(s.client, s.clientCh, down.length), "the extraction left Bouncy Castle working");

        byte[] up = text("client to server through Bouncy Castle", 700);
        record = encrypt(s.client, up);
        assertArrayEquals(inner(up, APPLICATION_DATA), open(suite, server0.readSecret(), server0.readSequence(), record));
        s.clientCh.write(ByteBuffer.wrap(record));
        assertArrayEquals(up, receive(s.server, s.serverCh, up.length));

        TrafficState server1 = s.server.trafficState();
        TrafficState client1 = s.client.trafficState();
        assertEquals(3, server1.readSequence());
        assertEquals(1, server1.writeSequence());
        assertEquals(3, client1.writeSequence());
        assertEquals(1, client1.readSequence());

        // (b) a record the JDK makes at the state's write sequence number, Bouncy Castle's peer takes
        byte[] jdkUp = text("client to server sealed by the JDK", 900);
        s.clientCh.write(ByteBuffer.wrap(seal(suite, client1.writeSecret(), client1.writeSequence(), APPLICATION_DATA, jdkUp)));
        assertArrayEquals(jdkUp, receive(s.server, s.serverCh, jdkUp.length));
        byte[] jdkDown = text("server to client sealed by the JDK", 1100);
        s.serverCh.write(ByteBuffer.wrap(seal(suite, server1.writeSecret(), server1.writeSequence(), APPLICATION_DATA, jdkDown)));
        assertArrayEquals(jdkDown, receive(s.client, s.clientCh, jdkDown.length));

        // and the sequence number is what made it pass: the same record number again is refused
        s.clientCh.write(ByteBuffer.wrap(seal(suite, client1.writeSecret(), client1.writeSequence(), APPLICATION_DATA, jdkUp)));
        assertThrows(IOException.class, () -> receive(s.server, s.serverCh, 1), "a replayed sequence number");
    }

    @ParameterizedTest(name = "suite {0}")
    @ValueSource(ints = {CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256})
    void aKeyUpdateMovesTheSecretsAndResetsTheSequenceNumbers(int suite) throws Exception {
        Sessions s = handshake(suite);
        TrafficState client0 = s.client.trafficState();
        TrafficState server0 = s.server.trafficState();
        String hmac = suite == CipherSuite.TLS_AES_256_GCM_SHA384 ? "HmacSHA384" : "HmacSHA256";

        // the client's KeyUpdate, update_requested, made by the JDK: the server's Bouncy Castle takes the new key
        byte[] keyUpdate = {24, 0, 0, 1, 1};
        s.clientCh.write(ByteBuffer.wrap(seal(suite, client0.writeSecret(), client0.writeSequence(), HANDSHAKE, keyUpdate)));
        byte[] nextClient = expandLabel(hmac, client0.writeSecret(), "traffic upd", client0.writeSecret().length);
        ByteBuffer buf = ByteBuffer.allocate(1024);
        Await.until(() -> {
            try {
                buf.clear();
                if (s.serverCh.read(buf) > 0) {
                    s.server.decrypt(buf.flip(), (b, o, l) -> { }, (b, o, l) -> { });
                }
                return Arrays.equals(nextClient, s.server.trafficState().readSecret());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, "the server's Bouncy Castle took the KeyUpdate");
        TrafficState server1 = s.server.trafficState();
        assertEquals(0, server1.readSequence(), "a new key starts at record 0");
        assertArrayEquals(server0.writeSecret(), server1.writeSecret(), "Bouncy Castle answers only with its next data");
        assertEquals(server0.writeSequence(), server1.writeSequence());
        assertTrue(server1.keyUpdateOwed());

        // Bouncy Castle's answer, then its data, each at the sequence number and under the secret the states say
        byte[] data = text("after the KeyUpdate", 200);
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        s.server.encrypt(data, 0, data.length, records::write);
        byte[] both = records.toByteArray();
        int first = 5 + ((both[3] & 0xff) << 8 | both[4] & 0xff);
        assertArrayEquals(inner(new byte[] {24, 0, 0, 1, 0}, HANDSHAKE),
                open(suite, server1.writeSecret(), server1.writeSequence(), Arrays.copyOf(both, first)), "KeyUpdate(update_not_requested)");
        byte[] nextServer = expandLabel(hmac, server1.writeSecret(), "traffic upd", server1.writeSecret().length);
        assertArrayEquals(inner(data, APPLICATION_DATA), open(suite, nextServer, 0, Arrays.copyOfRange(both, first, both.length)));
        TrafficState server2 = s.server.trafficState();
        assertArrayEquals(nextServer, server2.writeSecret());
        assertEquals(1, server2.writeSequence());
        assertFalse(server2.keyUpdateOwed(), "answered");
    }

    @ParameterizedTest(name = "suite {0}")
    @ValueSource(ints = {CipherSuite.TLS_AES_128_GCM_SHA256})
    void refusedWhileBouncyCastleHoldsSomething(int suite) throws Exception {
        Sessions s = handshake(suite, text("queued", 10));
        // the handshake offered Bouncy Castle nothing after the Finished: the record waits in the session,
        // and HANDLERECORD's processing leaves its application data in Bouncy Castle
        s.server.trafficState();
        s.server.handlePendingRecord();
        IllegalStateException e = assertThrows(IllegalStateException.class, s.server::trafficState);
        assertEquals("10 bytes of application data not yet taken", e.getMessage());
        takeQueued(s.server);
        s.server.trafficState(); // nothing held now
    }


    /**
     * The hand-over at work: every byte the client sent in its Finished's flight (here 100 KB, so
     * that the handshake's read cuts a record and the session completes it from the socket) comes
     * out of the server session's record layer, in order; then data goes both ways between the two
     * record layers, a KeyUpdate asked for is answered, and DISCONNECT's close_notify is the last record.
     */
    @ParameterizedTest(name = "suite {0}")
    @ValueSource(ints = {CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256})
    void nothingOfTheFinishedsFlightIsLostInTheHandOver(int suite) throws Exception {
        byte[] early1 = text("with the client's Finished, small", 100);
        byte[] early2 = text("with the client's Finished, large", 100_000);
        Sessions s = handshake(suite, true, early1, early2);
        assertTrue(s.server.recordsHandedOver() && s.client.recordsHandedOver());
        assertThrows(IllegalStateException.class, s.server::trafficState, "the secrets went with the hand-over");
        byte[] both = concat(early1, early2);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        s.server.decrypt(null, got::write, (b, off, len) -> { });
        assertTrue(got.size() < both.length, "the handshake's read cut the flight: the rest is in the socket");
        got.write(receive(s.server, s.serverCh, both.length - got.size()));
        assertArrayEquals(both, got.toByteArray(), "every byte of the Finished's flight, in order");

        byte[] down = text("server to client through our record layers", 70_000);
        s.serverCh.write(ByteBuffer.wrap(encrypt(s.server, down)));
        assertArrayEquals(down, receive(s.client, s.clientCh, down.length));

        // the client asks for a KeyUpdate (sealed by its record layer, through the test's door): the server takes it and answers
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        s.clientCh.write(ByteBuffer.wrap(s.client.keyUpdateForTest(true)));
        byte[] up = text("client to server after its KeyUpdate", 5000);
        s.clientCh.write(ByteBuffer.wrap(encrypt(s.client, up)));
        ByteArrayOutputStream upGot = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        Await.until(() -> {
            try {
                buf.clear();
                if (s.serverCh.read(buf) > 0) {
                    s.server.decrypt(buf.flip(), upGot::write, answer::write);
                }
                return upGot.size() >= up.length;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, "the client's data under its new key");
        assertArrayEquals(up, upGot.toByteArray());
        assertEquals(5 + 1 + 5 + 16, answer.size(), "the server's KeyUpdate(update_not_requested), sent at once");
        s.serverCh.write(ByteBuffer.wrap(answer.toByteArray()));
        byte[] down2 = text("server to client under its new key", 3000);
        s.serverCh.write(ByteBuffer.wrap(encrypt(s.server, down2)));
        assertArrayEquals(down2, receive(s.client, s.clientCh, down2.length), "the client followed the server's new key");

        s.server.disconnect();
        ByteArrayOutputStream afterClose = new ByteArrayOutputStream();
        Await.until(() -> {
            try {
                buf.clear();
                int n = s.clientCh.read(buf);
                return n > 0 && s.client.decrypt(buf.flip(), afterClose::write, (b, off, len) -> { }) || n < 0;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, "the server's close_notify");
        assertEquals(0, afterClose.size());
        assertTrue(s.client.tlsClosed());
    }

    /**
     * A relay that ends with records of ours still queued for the peer tells the session so: its
     * DISCONNECT then sends no close_notify (which would land inside a partly sent record, or tell the
     * peer the stream ended whole), and the socket is closed all the same.
     */
    @org.junit.jupiter.api.Test
    void disconnectAfterRecordsLeftUnsentSendsNoCloseNotify() throws Exception {
        Sessions s = handshake(CipherSuite.TLS_AES_128_GCM_SHA256, true);
        s.server.endsWithRecordsUnsent();
        s.server.disconnect();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        ByteArrayOutputStream afterClose = new ByteArrayOutputStream();
        Await.until(() -> {
            try {
                buf.clear();
                int n = s.clientCh.read(buf);
                if (n > 0) {
                    s.client.decrypt(buf.flip(), afterClose::write, (b, off, len) -> { });
                }
                return n < 0;
            } catch (IOException e) {
                return true; // reset: closed all the same
            }
        }, "the server's socket closed");
        assertEquals(0, afterClose.size());
        assertFalse(s.client.tlsClosed(), "no close_notify came: the stream was cut, not ended");
    }

    // --- the sessions ---

    record Sessions(TlsSession client, TlsSession server, SocketChannel clientCh, SocketChannel serverCh) {
    }

    /**
     * A TLS 1.3 handshake on {@code suite} between our client and server engines through a relay that
     * holds the client's Finished until {@code early} (sent by the client's session once its side
     * is done) follows it, then passes them on in one write: they reach the server together.
     */
    Sessions handshake(int suite, byte[]... early) throws Exception {
        return handshake(suite, false, early);
    }

    /** As above; with {@code handOver} the sessions' records go to our record layer, as the daemon's do. */
    Sessions handshake(int suite, boolean handOver, byte[]... early) throws Exception {
        TlsPolicy p = new TlsPolicy(false, new int[] {suite}, false, Duration.ofSeconds(10), false, false, Config.NO_WILDCARDS, false,
                "@example.org", false, TlsPolicy.DEFAULT_GROUPS);
        ServerTls st = ServerTls.start(p, ServerCredentials.of(server.chain(), PrivateKeyInfo.getInstance(server.privateKey().getEncoded()), "test"),
                null, null, timer);
        toClose.add(st);
        ClientTls ct = ClientTls.start(new ClientPolicy(false, new int[] {suite}, false, false, tmp.toString(), Duration.ofSeconds(10)),
                null, timer);
        toClose.add(ct);
        if (!handOver) {
            // these tests are about Bouncy Castle's own record state, which the sessions' hand-over would take from it
            ((TlsEngine) st).keepRecordsOnBouncyCastle();
            ((ClientEngine) ct).keepRecordsOnBouncyCastle();
        }
        SocketChannel[] toRelay = pair();
        SocketChannel[] fromRelay = pair();
        threads.submit(() -> relay(fromRelay[0], toRelay[1], Integer.MAX_VALUE));
        threads.submit(() -> relay(toRelay[1], fromRelay[0], 1 + early.length)); // the Finished and the early records
        CompletableFuture<HandshakeOutcome> sf = onWorker(() -> st.handshake(fromRelay[1], null, 2, workers.executor(), System.nanoTime()));
        CompletableFuture<HandshakeOutcome> cf = onWorker(() -> ct.connect(toRelay[0], "localhost", "", 1, workers.executor(), System.nanoTime()));
        TlsSession client = (TlsSession) cf.get(10, TimeUnit.SECONDS).session();
        for (byte[] e : early) {
            toRelay[0].write(ByteBuffer.wrap(encrypt(client, e)));
        }
        TlsSession srv = (TlsSession) sf.get(10, TimeUnit.SECONDS).session();
        return new Sessions(client, srv, toRelay[0], fromRelay[1]);
    }

    /**
     * Copies {@code from} to {@code to}; from the first encrypted record on (type 23: the client's
     * Finished), holds {@code hold} such records and writes them at once.
     */
    static Void relay(SocketChannel from, SocketChannel to, int hold) throws IOException {
        ByteArrayOutputStream held = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        int seen = 0;
        boolean holding = hold != Integer.MAX_VALUE;
        while (from.read(buf) >= 0) {
            buf.flip();
            if (!holding) {
                to.write(buf);
                buf.clear();
                continue;
            }
            while (buf.remaining() >= 5 && buf.remaining() >= 5 + buf.getShort(buf.position() + 3)) {
                int len = 5 + buf.getShort(buf.position() + 3);
                byte[] rec = new byte[len];
                buf.get(rec);
                if (rec[0] == APPLICATION_DATA || seen > 0) {
                    held.write(rec);
                    seen += rec[0] == APPLICATION_DATA ? 1 : 0;
                } else {
                    to.write(ByteBuffer.wrap(rec));
                }
            }
            buf.compact();
            if (seen >= hold) {
                holding = false;
                buf.flip();
                held.write(buf.array(), buf.position(), buf.remaining());
                buf.clear();
                to.write(ByteBuffer.wrap(held.toByteArray()));
            }
        }
        to.shutdownOutput(); // the end passed on, as a relay does
        return null;
    }

    /** A connected pair on loopback: [connecting side (non-blocking), accepted side (blocking, for the relay)]. */
    SocketChannel[] pair() throws IOException {
        try (ServerSocketChannel l = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            SocketChannel c = SocketChannel.open(l.getLocalAddress());
            SocketChannel s = l.accept();
            toClose.add(c);
            toClose.add(s);
            return new SocketChannel[] {c, s};
        }
    }

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

    /** The records Bouncy Castle makes of {@code plain}. */
    static byte[] encrypt(TlsSession s, byte[] plain) throws IOException {
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        s.encrypt(plain, 0, plain.length, records::write);
        return records.toByteArray();
    }

    /** The application data Bouncy Castle has already opened, without reading the socket. */
    static byte[] takeQueued(TlsSession s) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        s.decrypt(null, plain::write, (b, off, len) -> { });
        return plain.toByteArray();
    }

    /** Reads and decrypts (Bouncy Castle) until {@code n} bytes of application data came; IOException as Bouncy Castle throws it. */
    static byte[] receive(TlsSession s, SocketChannel ch, int n) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
        IOException[] failed = new IOException[1];
        Await.until(() -> {
            try {
                buf.clear();
                if (ch.read(buf) > 0) {
                    s.decrypt(buf.flip(), plain::write, (b, off, len) -> { });
                }
                return plain.size() >= n;
            } catch (IOException e) {
                failed[0] = e;
                return true;
            }
        }, n + " bytes through the session");
        if (failed[0] != null) {
            throw failed[0];
        }
        return plain.toByteArray();
    }

    // --- TLS 1.3 record protection on the JDK alone (RFC 8446 5.2, 5.3, 7.3): what the hand-over's taker must do ---

    /** HKDF-Expand-Label(secret, label, "", length), RFC 8446 7.1, on javax.crypto.Mac. */
    static byte[] expandLabel(String hmac, byte[] secret, String label, int length) throws Exception {
        byte[] full = ("tls13 " + label).getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        info.write(length >> 8);
        info.write(length);
        info.write(full.length);
        info.write(full);
        info.write(0); // empty context
        Mac mac = Mac.getInstance(hmac);
        mac.init(new SecretKeySpec(secret, hmac));
        ByteArrayOutputStream okm = new ByteArrayOutputStream();
        byte[] t = new byte[0];
        for (int i = 1; okm.size() < length; i++) {
            mac.update(t);
            mac.update(info.toByteArray());
            mac.update((byte) i);
            t = mac.doFinal();
            okm.write(t);
        }
        return Arrays.copyOf(okm.toByteArray(), length);
    }

    /** The JDK's AEAD for {@code suite}, keyed from {@code secret} for record {@code seq}: the nonce is iv XOR seq. */
    static Cipher cipher(int suite, byte[] secret, long seq, int mode) throws Exception {
        boolean chacha = suite == CipherSuite.TLS_CHACHA20_POLY1305_SHA256;
        String hmac = suite == CipherSuite.TLS_AES_256_GCM_SHA384 ? "HmacSHA384" : "HmacSHA256";
        byte[] key = expandLabel(hmac, secret, "key", suite == CipherSuite.TLS_AES_128_GCM_SHA256 ? 16 : 32);
        byte[] nonce = expandLabel(hmac, secret, "iv", 12);
        for (int i = 0; i < 8; i++) {
            nonce[11 - i] ^= (byte) (seq >>> (8 * i));
        }
        Cipher c = Cipher.getInstance(chacha ? "ChaCha20-Poly1305" : "AES/GCM/NoPadding");
        c.init(mode, new SecretKeySpec(key, chacha ? "ChaCha20" : "AES"), chacha ? new IvParameterSpec(nonce) : new GCMParameterSpec(128, nonce));
        return c;
    }

    /** One record: header (application_data, 0x0303, length) as additional data, then content || type sealed. */
    static byte[] seal(int suite, byte[] secret, long seq, byte type, byte[] content) throws Exception {
        byte[] in = inner(content, type);
        int len = in.length + 16;
        byte[] header = {APPLICATION_DATA, 3, 3, (byte) (len >> 8), (byte) len};
        Cipher c = cipher(suite, secret, seq, Cipher.ENCRYPT_MODE);
        c.updateAAD(header);
        return concat(header, c.doFinal(in));
    }

    /** The inner plaintext (content || type) of the one record {@code record}, opened with the JDK. */
    static byte[] open(int suite, byte[] secret, long seq, byte[] record) throws Exception {
        assertEquals(APPLICATION_DATA, record[0], "TLS 1.3's outer type");
        assertEquals(record.length - 5, (record[3] & 0xff) << 8 | record[4] & 0xff, "one whole record");
        Cipher c = cipher(suite, secret, seq, Cipher.DECRYPT_MODE);
        c.updateAAD(record, 0, 5);
        return c.doFinal(record, 5, record.length - 5);
    }

    static byte[] inner(byte[] content, byte type) {
        return concat(content, new byte[] {type});
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static byte[] text(String s, int length) {
        byte[] b = new byte[length];
        byte[] t = (s + " ").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < length; i++) {
            b[i] = t[i % t.length];
        }
        return b;
    }
}
