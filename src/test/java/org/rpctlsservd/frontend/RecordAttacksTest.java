package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.tls.CipherSuite;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;

/**
 * Hostile records through the real front end, after a real handshake (Bouncy Castle's client,
 * whose traffic secrets the test then writes its own records with): forged, truncated, replayed,
 * reordered, oversized, and a plaintext beyond 2^14. Each ends the connection with the right alert,
 * which the test opens with the daemon's key, and the backend gets not one byte of the refused
 * record (each carries a whole RPC call, so anything relayed would be seen). A good call goes first
 * on each connection, so the relay is known to work and its bytes are the only ones expected.
 */
class RecordAttacksTest {
    private static final TestPki.Ca CA = TestPki.ca("Record attacks CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();
    static final int BAD_RECORD_MAC = 20;
    static final int RECORD_OVERFLOW = 22;
    static final int MAX_CIPHERTEXT = (1 << 14) + 256;

    @TempDir
    Path tmp;

    final ExecutorService threads = Executors.newCachedThreadPool();
    CountingBackend backend;
    FrontEndHarness h;
    Socket raw;
    Tls13Wiretap.Direction up;
    Tls13Wiretap.Direction down;
    DataInputStream in;
    /** The bytes of the good call that opens each connection, as the backend gets them. */
    long goodBytes;

    @BeforeEach
    void connect() throws Exception {
        backend = new CountingBackend(threads);
        h = new FrontEndHarness(tmp, SERVER, backend.port(), "--require-alpn");
        raw = RawRpc.connect(h.port);
        raw.setSoTimeout(10_000);
        Tls13Wiretap.probe(raw);
        BcTls13Client c = BcTls13Client.connect(raw, SERVER, CipherSuite.TLS_AES_128_GCM_SHA256);
        up = new Tls13Wiretap.Direction(c.suite(), c.secrets()[0]);
        down = new Tls13Wiretap.Direction(c.suite(), c.secrets()[1]);
        in = new DataInputStream(raw.getInputStream());
        byte[] good = framedCall(1, 100);
        raw.getOutputStream().write(up.seal(good, 23));
        Reply r = readReply();
        assertEquals(1, r.xid, "the good call's reply");
        goodBytes = good.length;
        assertEquals(goodBytes, backend.bytes(), "the good call reached the backend whole");
    }

    @AfterEach
    void close() throws Exception {
        raw.close();
        h.close();
        backend.close();
        threads.shutdownNow();
    }

    /** A record-marked call of {@code args} bytes of arguments to the backend. */
    static byte[] framedCall(int xid, int args) {
        byte[] a = new byte[args];
        Arrays.fill(a, (byte) xid);
        byte[] call = RelayClientStacksTest.call(xid, a);
        return ByteBuffer.allocate(4 + call.length).putInt(0x80000000 | call.length).put(call).array();
    }

    record Reply(int xid, int alert) {
    }

    /** The daemon's next record-marked reply, or its alert (whichever comes first), opened with its key. */
    Reply readReply() throws Exception {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        while (true) {
            Tls13Wiretap.Inner i = readRecord();
            if (i == null) {
                return null;
            }
            if (i.type() == 21) {
                return new Reply(-1, (i.content()[0] << 8) | (i.content()[1] & 0xff));
            }
            assertEquals(23, i.type(), "only application data from the daemon: " + i);
            data.writeBytes(i.content());
            byte[] d = data.toByteArray();
            if (d.length >= 8 && d.length == 4 + (ByteBuffer.wrap(d).getInt() & 0x7fffffff)) {
                return new Reply(ByteBuffer.wrap(d).getInt(4), 0);
            }
        }
    }

    /** The daemon's next record opened, or null at the end of the connection. */
    Tls13Wiretap.Inner readRecord() throws Exception {
        byte[] header = new byte[5];
        try {
            in.readFully(header);
        } catch (EOFException end) {
            return null;
        }
        byte[] body = new byte[((header[3] & 0xff) << 8) | (header[4] & 0xff)];
        in.readFully(body);
        Tls13Wiretap.Inner i = down.open(new Tls13Wiretap.Record(header[0] & 0xff, header, body));
        if (i == null) {
            throw new AssertionError("a record of the daemon's that does not open under its key");
        }
        return i;
    }

    /**
     * After the attack: the daemon's fatal alert {@code alert} (level 2), possibly after replies to
     * {@code repliesBefore} calls it took before the bad record, then the end of the connection; and
     * the backend got {@code relayed} bytes in all, its connection closed.
     */
    void refusedWith(int alert, int repliesBefore, long relayed) throws Exception {
        Reply r;
        int replies = 0;
        while ((r = readReply()) != null && r.alert == 0) {
            assertTrue(++replies <= repliesBefore, "a reply to a call in the refused record");
        }
        assertTrue(r != null, "an alert before the end of the connection");
        assertEquals(0x200 | alert, r.alert, "a fatal " + alert + " (level 2, description): got " + Integer.toHexString(r.alert));
        assertClosed();
        backend.awaitEnd();
        assertEquals(relayed, backend.bytes(), "the backend's bytes");
    }

    /**
     * Nothing more from the daemon, and the connection closed: a FIN, or a reset where the daemon
     * closed with bytes of ours unread (the rest of a record it refused from its header).
     */
    void assertClosed() throws IOException {
        try {
            assertEquals(-1, in.read(), "nothing after the alert, and the connection closed");
        } catch (java.net.SocketException reset) {
            assertTrue(String.valueOf(reset.getMessage()).contains("reset"), String.valueOf(reset));
        }
    }

    /** Writes {@code bytes} on the socket; the daemon may have closed already (it refuses from the header). */
    void write(byte[] bytes) {
        try {
            raw.getOutputStream().write(bytes);
        } catch (IOException closedMeanwhile) {
            // the alert is what the test reads
        }
    }

    @Test
    void aForgedTag() throws Exception {
        byte[] r = up.seal(framedCall(2, 200), 23);
        r[r.length - 1] ^= 0x01;
        write(r);
        refusedWith(BAD_RECORD_MAC, 0, goodBytes);
    }

    @Test
    void aRecordCutShortWithAHeaderThatSaysSoIsForged() throws Exception {
        byte[] r = up.seal(framedCall(2, 200), 23);
        byte[] cut = Arrays.copyOf(r, r.length - 1);
        int len = cut.length - 5;
        cut[3] = (byte) (len >>> 8);
        cut[4] = (byte) len;
        write(cut);
        refusedWith(BAD_RECORD_MAC, 0, goodBytes);
    }

    @Test
    void aRecordCutShortThenTheEnd() throws Exception {
        byte[] r = up.seal(framedCall(2, 200), 23);
        write(Arrays.copyOf(r, r.length - 10));
        raw.shutdownOutput();
        theConnectionEndsWithNothingRelayed();
    }

    @Test
    void aHeaderAnnouncingMoreThanArrivesThenTheEnd() throws Exception {
        byte[] r = up.seal(framedCall(2, 200), 23);
        int len = MAX_CIPHERTEXT;
        byte[] announcing = Arrays.copyOf(r, r.length); // the whole record's bytes, but a header announcing 2^14 + 256
        announcing[3] = (byte) (len >>> 8);
        announcing[4] = (byte) len;
        write(announcing);
        raw.shutdownOutput();
        theConnectionEndsWithNothingRelayed();
    }

    /** An end inside a record: the connection closes (with an alert or without), nothing more relayed. */
    void theConnectionEndsWithNothingRelayed() throws Exception {
        Tls13Wiretap.Inner i = readRecord();
        if (i != null) {
            assertEquals(21, i.type(), "at most an alert: " + i);
            assertEquals(null, readRecord(), "nothing after it");
        }
        backend.awaitEnd();
        assertEquals(goodBytes, backend.bytes(), "the backend's bytes");
    }

    @Test
    void aReplayedRecord() throws Exception {
        byte[] second = framedCall(2, 200);
        byte[] r = up.seal(second, 23);
        write(r);
        write(r);
        // the first copy is authentic and relayed; its copy is not
        refusedWith(BAD_RECORD_MAC, 1, goodBytes + second.length);
    }

    @Test
    void reorderedRecords() throws Exception {
        byte[] r2 = up.seal(framedCall(2, 200), 23);
        byte[] r3 = up.seal(framedCall(3, 200), 23);
        write(ByteBuffer.allocate(r3.length + r2.length).put(r3).put(r2).array()); // in one write: both arrive
        refusedWith(BAD_RECORD_MAC, 0, goodBytes);
    }

    @Test
    void aCiphertextBeyond2To14Plus256() throws Exception {
        byte[] r = new byte[5 + MAX_CIPHERTEXT + 1];
        new java.util.Random(1).nextBytes(r);
        r[0] = 23;
        r[1] = 3;
        r[2] = 3;
        r[3] = (byte) ((MAX_CIPHERTEXT + 1) >>> 8);
        r[4] = (byte) (MAX_CIPHERTEXT + 1);
        write(r);
        refusedWith(RECORD_OVERFLOW, 0, goodBytes);
    }

    @Test
    void anInnerPlaintextBeyond2To14() throws Exception {
        // a whole call of 2^14 + 1 bytes in one authentic record: its inner plaintext (with the type) is 2^14 + 2
        byte[] call = framedCall(2, (1 << 14) + 1 - 4 - 40);
        assertEquals((1 << 14) + 1, call.length);
        byte[] r = up.seal(call, 23);
        assertTrue(r.length - 5 <= MAX_CIPHERTEXT, "within the ciphertext bound");
        write(r);
        refusedWith(RECORD_OVERFLOW, 0, goodBytes);
    }

    /**
     * A plain backend that answers each call with the whole call (BulkEcho's replies) and counts
     * every byte it is sent, as it arrives, on every connection.
     */
    static final class CountingBackend implements AutoCloseable {
        private final ServerSocket listener;
        private final List<Conn> conns = new CopyOnWriteArrayList<>();

        record Conn(AtomicLong bytes, CompletableFuture<Void> ended) {
        }

        CountingBackend(ExecutorService threads) throws IOException {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.submit(() -> {
                while (!listener.isClosed()) {
                    Socket s = listener.accept();
                    Conn c = new Conn(new AtomicLong(), new CompletableFuture<>());
                    conns.add(c);
                    threads.submit(() -> serve(s, c));
                }
                return null;
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        long bytes() {
            return conns.stream().mapToLong(c -> c.bytes.get()).sum();
        }

        /** Waits until every connection that carried bytes has ended (the front end closed it). */
        void awaitEnd() throws Exception {
            List<CompletableFuture<Void>> used = new ArrayList<>();
            for (Conn c : conns) {
                if (c.bytes.get() > 0) {
                    used.add(c.ended);
                }
            }
            CompletableFuture.allOf(used.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        }

        private Void serve(Socket s, Conn c) {
            try (s) {
                InputStream counted = new java.io.FilterInputStream(s.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        int b = super.read();
                        if (b >= 0) {
                            c.bytes.incrementAndGet();
                        }
                        return b;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        int n = super.read(b, off, len);
                        if (n > 0) {
                            c.bytes.addAndGet(n);
                        }
                        return n;
                    }
                };
                DataInputStream din = new DataInputStream(counted);
                while (true) {
                    byte[] call = RawRpc.readRecord(din);
                    int xid = ByteBuffer.wrap(call).getInt();
                    byte[] reply = ByteBuffer.allocate(RecordLayerRelayTest.BulkEcho.HEADER + call.length).putInt(xid).putInt(1)
                            .putInt(0).putInt(0).putInt(0).putInt(0).put(call).array();
                    s.getOutputStream().write(ByteBuffer.allocate(4 + reply.length).putInt(0x80000000 | reply.length).put(reply).array());
                }
            } catch (IOException gone) {
                c.ended.complete(null); // the front end closed the connection (or its health probe did)
                return null;
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }
}
