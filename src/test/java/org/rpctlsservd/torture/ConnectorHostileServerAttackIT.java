package org.rpctlsservd.torture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.rpc.RpcMessages;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.Rfc9289Server;
import org.rpctlsservd.support.TestDaemons;
import org.rpctlsservd.support.TestPki;

/**
 * The connector (rpc.tlsclntd --connect) against hostile RFC 9289 servers (issue 20, point 2): one
 * that completes TLS and then never reads, one that never answers the probe, one that answers it
 * with garbage, one that sends garbage instead of a ServerHello. Each time plain clients of a good
 * server (the Python one, OpenSSL) in the same daemon are served throughout, the daemon's memory
 * stays bounded, and the hostile server's clients are closed with a log line that says why.
 */
class ConnectorHostileServerAttackIT {
    @TempDir
    static Path shared;
    static Path caFile;
    static SSLContext hostileTls;
    static Rfc9289Server good;

    @TempDir
    Path tmp;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void servers() throws Exception {
        TestPki.Ca ca = TestPki.ca("Hostile Servers CA");
        caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        TestPki.Issued cert = PeerPki.server(ca, "server", "localhost", "127.0.0.1");
        TestPki.writeServer(shared.resolve("server"), cert);
        good = Rfc9289Server.start(shared.resolve("python"), shared.resolve("server"));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", cert.keys().getPrivate(), new char[0], cert.jcaChain());
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        hostileTls = SSLContext.getInstance("TLSv1.3");
        hostileTls.init(kmf.getKeyManagers(), null, null);
    }

    @AfterAll
    static void stopGood() {
        good.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        threads.shutdownNow();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS), "the test's threads ended");
    }

    /** rpc.tlsclntd with a connector to the good server (first) and one to each hostile one, then {@code extra}. */
    private Daemon daemon(List<Hostile> hostile, String... extra) throws Exception {
        Files.createDirectories(tmp.resolve("certs"));
        List<String> a = new ArrayList<>(List.of("-d", "-D", tmp.resolve("certs").toString(), "-l", caFile.toString(), "--no-pidfile",
                "--rpc-socket", tmp.resolve("rpctlscd.sock").toString(), "--no-rpcbind", "--metrics", "127.0.0.1:0"));
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i <= hostile.size(); i++) {
            int listen = TestDaemons.freePort();
            ports.add(listen);
            a.addAll(List.of("--connect", "127.0.0.1:" + listen + ",127.0.0.1:" + (i == 0 ? good.port : hostile.get(i - 1).port())));
        }
        a.addAll(List.of(extra));
        DaemonProcess d = DaemonProcess.startClient(tmp.resolve("clntd"), HostileLoadIT.HEAP, a.toArray(new String[0]));
        toClose.add(d);
        Daemon out = new Daemon(d, ports);
        out.goodClient(); // warm: the first handshake pays for the JIT, not the attack's figures
        return out;
    }

    private Hostile hostile(Hostile.Mode mode) throws IOException {
        Hostile h = new Hostile(mode, threads);
        toClose.add(h);
        return h;
    }

    @Test
    void aServerThatNeverReadsStopsItsClientsUploadsKeepsMemoryBoundedAndIsCutByTheWriteTimeout() throws Exception {
        int attackers = 10;
        int writeTimeout = 5;
        Hostile deaf = hostile(Hostile.Mode.NEVER_READS);
        Daemon d = daemon(List.of(deaf), "--write-timeout", String.valueOf(writeTimeout));
        long heap0 = d.process.heapUsedMiB();
        byte[] call = ByteBuffer.allocate(4 + 64 * 1024).putInt(0x80000000 | 64 * 1024).putInt(1).array(); // one 64-KiB record
        AtomicLong[] sent = new AtomicLong[attackers];
        List<Long> closedAfterMs = Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        for (int i = 0; i < attackers; i++) {
            AtomicLong n = sent[i] = new AtomicLong();
            Socket s = RawRpc.connect(d.ports.get(1));
            toClose.add(s);
            threads.submit(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    while (true) {
                        out.write(call);
                        n.addAndGet(call.length);
                    }
                } catch (IOException e) {
                    closedAfterMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)); // the connector gave it up
                }
            });
        }
        Await.until(() -> deaf.tls.get() == attackers, "every attacker's TLS session to the deaf server (" + deaf.tls + ")", 60);
        // The uploads stop: nothing more is read from the attackers once what the server does not take fills the queues.
        long[] last = {-1};
        Await.until(() -> {
            long now = total(sent);
            boolean still = now == last[0];
            last[0] = now;
            return still || closedAfterMs.size() > 0;
        }, "the attackers' uploads to stall", 30);
        assertTrue(closedAfterMs.isEmpty(), "uploads stalled before the write timeout cut anyone: " + closedAfterMs);
        long stalledAt = total(sent);
        double charged = HostileLoadIT.sample(HostileLoadIT.scrapeMetrics(d.process), "rpctlssd_frontend_memory_bytes");
        long heap1 = d.process.heapUsedMiB();
        // Meanwhile, and until the write timeout cut them all, good clients through the good server are served.
        HostileLoadIT.GoodClients served = d.goodClientsUntil(() -> closedAfterMs.size() == attackers, 60);
        long first = Collections.min(closedAfterMs);
        long lastClosed = Collections.max(closedAfterMs);
        HostileLoadIT.report(String.format("connector, %d clients to a server that completes TLS and never reads, --write-timeout %d: "
                + "uploads stalled at %d KiB each; memory charged %d KiB; heap %d -> %d MiB; cut %d to %d ms after they began; "
                + "%d good clients served meanwhile, worst %d ms", attackers, writeTimeout, stalledAt / attackers >> 10, (long) charged >> 10,
                heap0, heap1, first, lastClosed, served.served(), served.worstMs()));
        for (AtomicLong n : sent) {
            // the sockets' buffers both ways and a queue of HIGH_WATER plus a record: tens of MiB; unread, it would be gigabytes
            assertTrue(n.get() < 48L << 20, "an attacker got " + (n.get() >> 20) + " MiB read while its server took nothing");
        }
        assertTrue(charged < attackers * (5L << 20), "the connector holds " + (long) charged + " bytes for " + attackers + " stalled clients");
        assertTrue(heap1 - heap0 < 64, "heap grew from " + heap0 + " to " + heap1 + " MiB");
        assertTrue(first >= writeTimeout * 1000L, "the first cut " + first + " ms after it began, before the write timeout");
        assertTrue(lastClosed < (writeTimeout + 20) * 1000L, "the last cut " + lastClosed + " ms after it began");
        assertTrue(d.process.log().contains("WARNING connector: server 127.0.0.1:" + deaf.port() + " took no bytes for " + writeTimeout
                + " s (--write-timeout"), d.process.log());
        assertEquals(0, deaf.plainBytes(), "the deaf server got nothing in plain text");
    }

    @Test
    void aServerThatNeverAnswersTheProbeHasItsClientsClosedAtTheFirstCallTimeout() throws Exception {
        int clients = 10;
        Hostile mute = hostile(Hostile.Mode.SILENT);
        Daemon d = daemon(List.of(mute), "--first-call-timeout", "3");
        List<Future<Long>> closed = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < clients; i++) {
            RawRpc c = new RawRpc(d.ports.get(1));
            toClose.add(c);
            c.socket().setSoTimeout(30_000);
            c.send(RawRpc.call().xid(i + 1).prog(Rfc9289Server.PROGRAM).vers(1).proc(Rfc9289Server.NULL).bytes());
            closed.add(threads.submit(() -> {
                assertTrue(c.closedByServer(), "closed, not answered");
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            }));
        }
        HostileLoadIT.GoodClients served = d.goodClientsUntil(() -> closed.stream().allMatch(Future::isDone), 60);
        List<Long> ms = new ArrayList<>();
        for (Future<Long> f : closed) {
            ms.add(f.get(1, TimeUnit.SECONDS));
        }
        double shed = HostileLoadIT.sample(HostileLoadIT.scrapeMetrics(d.process), "rpctlssd_frontend_shed_total{reason=\"first_call_timeout\"}");
        HostileLoadIT.report(String.format("connector, %d clients to a server that never answers the probe, --first-call-timeout 3: closed %d to "
                + "%d ms after they came; %d counted; %d good clients served meanwhile, worst %d ms", clients, Collections.min(ms),
                Collections.max(ms), (long) shed, served.served(), served.worstMs()));
        assertTrue(Collections.max(ms) < 3000 + 10_000, "closed " + ms + " ms after they came");
        assertTrue(Collections.min(ms) >= 2500, "closed " + ms + " ms after they came: before the timeout");
        assertEquals(clients, (long) shed, "each counted as shed for the first-call timeout");
        assertTrue(d.process.log().contains("WARNING connector: closed clients whose server 127.0.0.1:" + mute.port()
                + " answered no STARTTLS probe"), d.process.log());
        // (the server also sees /ready's health probes: connections opened and closed with nothing sent)
    }

    @Test
    void garbageInsteadOfTheProbesReplyOrOfTheServerHelloClosesTheClientsSayingWhichAndRelaysNothing() throws Exception {
        Hostile noRpc = hostile(Hostile.Mode.GARBAGE_REPLY);
        Hostile noTls = hostile(Hostile.Mode.GARBAGE_HELLO);
        Daemon d = daemon(List.of(noRpc, noTls));
        byte[] secret = "a secret that must never go in plain text".getBytes(StandardCharsets.US_ASCII);
        for (int port : List.of(d.ports.get(1), d.ports.get(2))) {
            for (int i = 0; i < 3; i++) {
                try (RawRpc c = new RawRpc(port)) {
                    c.socket().setSoTimeout(30_000);
                    c.send(RawRpc.call().xid(i + 1).prog(Rfc9289Server.PROGRAM).vers(1).proc(Rfc9289Server.ECHO)
                            .args(Rfc9289Server.opaque(secret)).bytes());
                    assertTrue(c.closedByServer(), "closed, not answered");
                }
                d.goodClient();
            }
        }
        String log = d.process.log();
        assertTrue(log.contains("WARNING connector: server 127.0.0.1:" + noRpc.port() + " did not answer STARTTLS (garbage instead of a reply"),
                log);
        assertTrue(log.matches("(?s).*handshake server=127\\.0\\.0\\.1:" + noTls.port() + " .*result=failed.*"), log);
        assertTrue(log.contains("WARNING connector: TLS to server 127.0.0.1:" + noTls.port() + " failed"), log);
        for (Hostile h : List.of(noRpc, noTls)) {
            Await.until(() -> h.ended.get() == h.connections.get(), "the server's connections closed", 30);
            assertFalse(contains(h.received(), secret), "nothing of the client's reached the " + h.mode + " server");
        }
        assertEquals(3, noTls.helloes.get(), "each client's handshake began: " + noTls.helloes);
    }

    private static long total(AtomicLong[] sent) {
        long t = 0;
        for (AtomicLong n : sent) {
            t += n.get();
        }
        return t;
    }

    private static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** The client daemon, its connectors' listening ports (the good server's first), and good clients through it. */
    private record Daemon(DaemonProcess process, List<Integer> ports) {
        /** A plain client of the good server: an ECHO answered with its bytes; its latency in ms. */
        long goodClient() throws IOException {
            long t0 = System.nanoTime();
            byte[] data = {4, 2, 4, 2};
            try (RawRpc c = new RawRpc(ports.get(0))) {
                c.socket().setSoTimeout(30_000);
                c.send(RawRpc.call().xid(9).prog(Rfc9289Server.PROGRAM).vers(1).proc(Rfc9289Server.ECHO).args(Rfc9289Server.opaque(data))
                        .bytes());
                RawRpc.Reply r = c.read();
                assertEquals(0, r.stat, r.toString());
                assertArrayEquals(data, Rfc9289Server.opaque(r.result), "the echo through the connector");
            }
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        }

        /** Good clients, one after another, at least one, until {@code over} (or {@code seconds}); each served or the test fails. */
        HostileLoadIT.GoodClients goodClientsUntil(java.util.function.BooleanSupplier over, int seconds) throws Exception {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long worst = 0;
            int served = 0;
            do {
                long t = System.nanoTime();
                worst = Math.max(worst, goodClient());
                served++;
                long left = TimeUnit.MILLISECONDS.toNanos(200) - (System.nanoTime() - t);
                if (left > 0) {
                    TimeUnit.NANOSECONDS.sleep(left); // pacing the good clients, not waiting for a result
                }
                assertTrue(process.process.isAlive(), process.log());
                assertTrue(System.nanoTime() < end, "still waiting after " + seconds + " s");
            } while (!over.getAsBoolean());
            assertTrue(worst < HostileLoadIT.GOOD_CLIENT_MS, "a good client took " + worst + " ms");
            return new HostileLoadIT.GoodClients(served, worst);
        }
    }

    /** A hostile RFC 9289 server on loopback: each connection as {@link Mode} says; what it got after the probe is kept. */
    static final class Hostile implements AutoCloseable {
        enum Mode { NEVER_READS, SILENT, GARBAGE_REPLY, GARBAGE_HELLO }

        final Mode mode;
        final ServerSocket socket = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        final AtomicInteger connections = new AtomicInteger();
        final AtomicInteger ended = new AtomicInteger();
        final AtomicInteger tls = new AtomicInteger();
        final AtomicInteger helloes = new AtomicInteger();
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();
        private final List<Socket> held = Collections.synchronizedList(new ArrayList<>());

        Hostile(Mode mode, ExecutorService threads) throws IOException {
            this.mode = mode;
            threads.submit(() -> {
                while (!socket.isClosed()) {
                    Socket s = socket.accept();
                    held.add(s);
                    connections.incrementAndGet();
                    threads.submit(() -> serve(s));
                }
                return null;
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        synchronized byte[] received() {
            return received.toByteArray();
        }

        /** What came after the probe before TLS, or anything at all in NEVER_READS mode that is not TLS: here always 0 there. */
        synchronized int plainBytes() {
            return received.size();
        }

        private Void serve(Socket s) throws IOException {
            try {
                if (mode == Mode.SILENT) {
                    return null; // the probe stays unread, unanswered
                }
                s.setSoTimeout(60_000);
                DataInputStream in = new DataInputStream(s.getInputStream()); // unbuffered: the probe and no byte more
                byte[] probe = RawRpc.readRecord(in);
                int xid = ByteBuffer.wrap(probe).getInt();
                OutputStream out = s.getOutputStream();
                if (mode == Mode.GARBAGE_REPLY) {
                    out.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    keep(in);
                    return null;
                }
                byte[] reply = RpcMessages.startTls(xid);
                out.write(ByteBuffer.allocate(4 + reply.length).putInt(0x80000000 | reply.length).put(reply).array());
                if (mode == Mode.GARBAGE_HELLO) {
                    byte[] header = new byte[5];
                    in.readFully(header); // the ClientHello's record header, then its body
                    in.readFully(new byte[((header[3] & 0xff) << 8) | (header[4] & 0xff)]);
                    helloes.incrementAndGet();
                    out.write("this is not a ServerHello, nor any TLS record at all".repeat(4).getBytes(StandardCharsets.US_ASCII));
                    keep(in);
                    return null;
                }
                SSLSocket ssl = (SSLSocket) hostileTls.getSocketFactory().createSocket(s, null, s.getPort(), false);
                held.add(ssl);
                ssl.setUseClientMode(false);
                SSLParameters p = ssl.getSSLParameters();
                p.setApplicationProtocols(new String[] {"sunrpc"});
                ssl.setSSLParameters(p);
                ssl.startHandshake();
                tls.incrementAndGet(); // and never a byte read again
                return null;
            } catch (IOException e) {
                return null; // the connector closed it
            } finally {
                if (mode != Mode.NEVER_READS && mode != Mode.SILENT) {
                    ended.incrementAndGet();
                }
            }
        }

        /** Reads, keeping what comes, until the connector closes the connection. */
        private void keep(InputStream in) throws IOException {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) >= 0;) {
                synchronized (this) {
                    received.write(buf, 0, n);
                }
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
            synchronized (held) {
                for (Socket s : held) {
                    s.close();
                }
            }
        }
    }
}
