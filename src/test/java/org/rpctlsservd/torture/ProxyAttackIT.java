package org.rpctlsservd.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.Haproxy;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * Issue 16, attack 5: a trusted balancer (--accept-proxy-from 127.0.0.0/8) sends PROXY headers
 * whose addresses are no literal (999.999.999.N passed the old digit check and went to DNS on the
 * event loop: a resolver that never answers stalled the loop 10 s a header). The daemon runs in a
 * mount namespace of its own whose /etc/resolv.conf names only a resolver this test plays, which
 * counts the queries and never answers; good clients come through a real HAProxy (send-proxy) all
 * the while. Asserted: no DNS query from the daemon, the good clients served promptly, each bad
 * header refused at once, SIGTERM exit 0. Needs root (port 53, mount), as tools/test runs it.
 */
class ProxyAttackIT {
    /** The resolver's own loopback address; resolv.conf can name no port, so it listens on 53. */
    static final String RESOLVER = "127.53.53.53";
    /** Connections sending bad headers at once (the daemon has one event loop per CPU). */
    static final int ATTACKERS = 4;
    /** Far below the 10 s one look-up stalled a loop, far above a loaded loop's turn. */
    static final long WORST_MS = 5000;

    static TestPki.Ca ca;
    static TestPki.Issued server;
    static SSLContext clientTls;

    @TempDir
    Path tmp;
    EchoBackend backend;
    DeafResolver resolver;
    private final ExecutorService attackers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "attacker");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean stop = new AtomicBoolean();

    @BeforeAll
    static void pki() throws Exception {
        ca = TestPki.ca("Proxy attack CA");
        server = ca.leaf("server").dns("localhost").issue();
        clientTls = TlsHarness.jdkClient(null, ca, "TLSv1.3");
    }

    @BeforeEach
    void setUp() throws IOException {
        backend = new EchoBackend();
        TestPki.writeServer(tmp.resolve("server"), server);
        resolver = new DeafResolver();
    }

    @AfterEach
    void tearDown() throws Exception {
        stop.set(true);
        attackers.shutdownNow();
        attackers.awaitTermination(10, TimeUnit.SECONDS);
        resolver.close();
        backend.close();
    }

    /**
     * A DNS server that takes queries (UDP, and TCP connections) on RESOLVER:53, counts them and
     * never answers: a stub resolver asking it waits its whole timeout (5 s, twice, by default).
     */
    static final class DeafResolver implements AutoCloseable {
        final DatagramSocket udp;
        final ServerSocket tcp;
        final AtomicInteger queries = new AtomicInteger();
        final Queue<String> names = new ConcurrentLinkedQueue<>();
        private final List<Socket> held = new ArrayList<>();
        private final List<Thread> threads = new ArrayList<>();

        DeafResolver() throws IOException {
            InetAddress at = InetAddress.getByAddress(new byte[] {127, 53, 53, 53});
            try {
                udp = new DatagramSocket(new InetSocketAddress(at, 53));
                tcp = new ServerSocket(53, 50, at);
            } catch (IOException e) {
                throw new IOException("the never-answering resolver needs " + RESOLVER + ":53 (root, nothing else on port 53)", e);
            }
            threads.add(started("deaf-dns-udp", () -> {
                byte[] buf = new byte[1500];
                while (!udp.isClosed()) {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    try {
                        udp.receive(p);
                    } catch (IOException e) {
                        return; // closed
                    }
                    queries.incrementAndGet();
                    names.add(qname(buf, p.getLength()));
                }
            }));
            threads.add(started("deaf-dns-tcp", () -> {
                while (!tcp.isClosed()) {
                    try {
                        Socket s = tcp.accept();
                        queries.incrementAndGet();
                        names.add("(a TCP connection)");
                        synchronized (held) {
                            held.add(s); // held open, never answered
                        }
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            }));
        }

        /** The question's name, for the failure message. */
        static String qname(byte[] b, int n) {
            StringBuilder sb = new StringBuilder();
            int at = 12;
            while (at < n && b[at] != 0) {
                int len = b[at] & 0xff;
                if (at + 1 + len > n) {
                    break;
                }
                sb.append(new String(b, at + 1, len, StandardCharsets.US_ASCII)).append('.');
                at += 1 + len;
            }
            return sb.toString();
        }

        @Override
        public void close() throws Exception {
            udp.close();
            tcp.close();
            synchronized (held) {
                for (Socket s : held) {
                    s.close();
                }
            }
            for (Thread t : threads) {
                t.join(10_000);
            }
        }
    }

    private static Thread started(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * The command prefix that runs what follows in a mount namespace of its own whose resolv.conf
     * names only the deaf resolver and whose nsswitch.conf sends host names to files and DNS only
     * (so no systemd-resolved or mDNS module answers instead); the machine's own files are untouched.
     */
    private List<String> deafDns() throws IOException {
        Path resolv = tmp.resolve("resolv.conf");
        Files.writeString(resolv, "nameserver " + RESOLVER + "\n");
        Path nss = tmp.resolve("nsswitch.conf");
        String ours = Files.readString(Path.of("/etc/nsswitch.conf")).replaceAll("(?m)^hosts:.*$", "hosts: files dns");
        Files.writeString(nss, ours.contains("hosts:") ? ours : ours + "hosts: files dns\n");
        return List.of("unshare", "--mount", "--", "sh", "-c", "mount --bind '" + resolv + "' /etc/resolv.conf && mount --bind '" + nss
                + "' /etc/nsswitch.conf && exec \"$0\" \"$@\"");
    }

    /** A good RFC 9289 client through HAProxy: probe, TLS 1.3, one call relayed to the backend; its latency in ms. */
    static long goodClient(int port) throws Exception {
        return HostileLoadIT.goodClient(port, clientTls);
    }

    /** Version 1 lines whose addresses no literal parser takes; {@code n} makes each new (no negative cache helps). */
    static String badHeader(int n) {
        int k = n & 0xff;
        return switch (n % 5) {
            case 0 -> "PROXY TCP4 999.999.999." + k + " 127.0.0.1 40000 2049\r\n";
            case 1 -> "PROXY TCP4 127.0.0.1 999.999." + k + ".1 40000 2049\r\n";
            case 2 -> "PROXY TCP6 ::ffff:999.1.1." + k + " ::1 40000 2049\r\n";
            case 3 -> "PROXY TCP4 01.2.3." + k + " 127.0.0.1 40000 2049\r\n";
            default -> "PROXY TCP4 1.2." + k + " 127.0.0.1 40000 2049\r\n";
        };
    }

    @Test
    void badAddressesInPROXYHeadersAreNeverLookedUpAndGoodClientsAreServedMeanwhile() throws Exception {
        List<String> prefix = deafDns();
        // The namespace really sends look-ups to the deaf resolver: a getaddrinfo of the attack's kind is seen.
        Commands.Result control = Commands.run(30, concat(prefix, "timeout", "3", "getent", "ahosts", "999.999.999.0").toArray(new String[0]));
        Await.until(() -> resolver.queries.get() > 0, "the deaf resolver to see the control look-up (" + control + ")", 10);
        resolver.queries.set(0);
        resolver.names.clear();

        Path pid = tmp.resolve("pid");
        List<String> args = List.of("-d", "-D", tmp.resolve("server").toString(), "--pidfile", pid.toString(), "--rpc-socket",
                tmp.resolve("rpctlssd.sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0", "--backend",
                "127.0.0.1:" + backend.port(), "--accept-proxy-from", "127.0.0.0/8");
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), HostileLoadIT.HEAP, prefix, args.toArray(new String[0]));
                Haproxy lb = new Haproxy(tmp.resolve("haproxy"), "", d.frontEndPort, "send-proxy")) {
            int atStart = resolver.queries.get(); // the start may ask for this host's name; the attack may ask nothing
            goodClient(lb.port);

            AtomicInteger sent = new AtomicInteger();
            AtomicInteger refused = new AtomicInteger();
            AtomicInteger unanswered = new AtomicInteger();
            AtomicLong worstRefusal = new AtomicLong();
            List<Future<?>> all = new ArrayList<>();
            for (int a = 0; a < ATTACKERS; a++) {
                all.add(attackers.submit(() -> {
                    while (!stop.get()) {
                        int n = sent.getAndIncrement();
                        try (Socket s = RawRpc.connect(d.frontEndPort)) { // from 127.0.0.1: a trusted balancer
                            s.setSoTimeout(15_000);
                            long t = System.nanoTime();
                            s.getOutputStream().write(badHeader(n).getBytes(StandardCharsets.US_ASCII));
                            InputStream in = s.getInputStream();
                            try {
                                while (in.read() >= 0) {
                                    // the daemon says nothing to a bad header: it closes
                                }
                            } catch (SocketTimeoutException e) {
                                unanswered.incrementAndGet(); // neither refused nor closed in 15 s
                                continue;
                            } catch (SocketException e) {
                                // reset: closed as well
                            }
                            worstRefusal.accumulateAndGet(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t), Math::max);
                            refused.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            long worst = 0;
            int good = 0;
            List<String> failures = new ArrayList<>();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(HostileLoadIT.SECONDS);
            do {
                long t = System.nanoTime();
                try {
                    worst = Math.max(worst, goodClient(lb.port));
                    good++;
                } catch (Exception | AssertionError e) {
                    failures.add(e.toString());
                }
                long left = TimeUnit.MILLISECONDS.toNanos(250) - (System.nanoTime() - t);
                if (left > 0) {
                    TimeUnit.NANOSECONDS.sleep(left); // pacing the good clients, not waiting for a result
                }
            } while (System.nanoTime() < end);
            stop.set(true);
            for (Future<?> f : all) {
                f.get(60, TimeUnit.SECONDS);
            }
            int seen = resolver.queries.get() - atStart;
            assertTrue(d.process.isAlive(), d.log());
            assertEquals(0, seen, "DNS queries during the attack (" + good + " good clients served, " + failures.size() + " not, "
                    + unanswered.get() + " bad headers left unanswered 15 s): " + resolver.names);
            assertEquals(List.of(), failures, good + " good clients served; these were not");
            assertEquals(0, unanswered.get(), "bad headers neither refused nor closed within 15 s");
            assertTrue(refused.get() >= ATTACKERS, refused.get() + " bad headers refused");
            assertTrue(worst < WORST_MS, "good client worst " + worst + " ms");
            assertTrue(worstRefusal.get() < WORST_MS, "a bad header refused after " + worstRefusal.get() + " ms");
            assertTrue(d.log().contains("bad PROXY header: bad address in version 1 header: "), d.log());
            assertTrue(lb.log().contains("proxied client=127.0.0.1"), "the good clients came through HAProxy: " + lb.log());

            long t0 = System.nanoTime();
            assertEquals(0, d.terminate(HostileLoadIT.STOP_SECONDS), "SIGTERM after the attack: " + d.log());
            long stopMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertFalse(Files.exists(pid), "pidfile removed");
            assertEquals(0, resolver.queries.get() - atStart, "DNS queries up to the exit: " + resolver.names);
            HostileLoadIT.report(String.format("bad-address PROXY headers from a trusted peer, never-answering resolver, %d s: %d headers "
                    + "refused (worst %d ms), %d good clients through HAProxy all served (worst %d ms), DNS queries 0 (%d at start), "
                    + "SIGTERM exit 0 in %d ms", HostileLoadIT.SECONDS, refused.get(), worstRefusal.get(), good, worst, atStart, stopMs));
        }
    }

    private static List<String> concat(List<String> a, String... b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(List.of(b));
        return out;
    }
}
