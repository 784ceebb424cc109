package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The RFC 9289 client side for clients that cannot do it (libnfs): listens on 127.0.0.1:0 and, for
 * each plain TCP connection, connects to the front end, sends the STARTTLS probe and checks its
 * reply, does TLS 1.3 with ALPN {@code sunrpc} (presenting the certificate {@code tls} holds, if
 * any), then copies bytes both ways until either side closes. Hand-written because no library
 * plays this part: stunnel and socat cannot send the clear-text probe before the handshake.
 * {@link #plainTls} leaves the probe out, for a TLS relay that expects TLS at once (stunnel).
 */
public final class TlsForwarder implements Closeable {
    /** Connections served at once; more are closed at accept (a test never needs many). */
    static final int MAX_CONNECTIONS = 32;
    private static final int CONNECT_MS = 5000;
    private static final int HANDSHAKE_MS = 20_000;

    private final String host;
    private final int frontEndPort;
    private final SSLContext tls;
    private final boolean probe;
    private final ServerSocket listener;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger sessions = new AtomicInteger();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final AtomicInteger serial = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final Set<String> cipherSuites = ConcurrentHashMap.newKeySet();
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    /** CPU nanoseconds of its threads that ended; guarded by {@code threads}' lock with the set itself. */
    private long endedCpuNanos;
    private final Thread acceptor;

    /** Forwards to the front end at {@code host:frontEndPort}, TLS set up by {@code tls}. */
    public TlsForwarder(String host, int frontEndPort, SSLContext tls) throws IOException {
        this(host, frontEndPort, tls, true);
    }

    /** Forwards to a plain TLS 1.3 server (stunnel, say) at {@code host:port}: no STARTTLS probe, the handshake at once. */
    public static TlsForwarder plainTls(String host, int port, SSLContext tls) throws IOException {
        return new TlsForwarder(host, port, tls, false);
    }

    private TlsForwarder(String host, int frontEndPort, SSLContext tls, boolean probe) throws IOException {
        this.host = host;
        this.frontEndPort = frontEndPort;
        this.tls = tls;
        this.probe = probe;
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = thread("tls-forwarder-accept-" + listener.getLocalPort(), this::accept);
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** TLS sessions set up so far (the probe answered and the handshake done). */
    public int sessions() {
        return sessions.get();
    }

    /** Connections being forwarded now. */
    public int connections() {
        return active.get();
    }

    /** The cipher suites its TLS sessions used so far. */
    public Set<String> cipherSuites() {
        return Set.copyOf(cipherSuites);
    }

    /**
     * CPU seconds its threads (the probe, the handshakes, the copying, the acceptor) used so far, ended
     * threads included; not the JVM's JIT and GC, which it shares with whatever else runs in it.
     */
    public double cpuSeconds() {
        synchronized (threads) {
            long sum = endedCpuNanos;
            for (Thread t : threads) {
                long n = CPU.getThreadCpuTime(t.getId());
                sum += Math.max(0, n); // -1: it ended just now, after adding its time to endedCpuNanos
            }
            return sum / 1e9;
        }
    }

    /** What went wrong with connections so far (the probe, the handshake), for assertions and messages. */
    public List<String> failures() {
        return List.copyOf(failures);
    }

    private Thread thread(String name, Runnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } finally {
                synchronized (threads) {
                    endedCpuNanos += CPU.getCurrentThreadCpuTime();
                    threads.remove(Thread.currentThread());
                }
            }
        }, name);
        t.setDaemon(true); // one left blocked never keeps the test JVM alive
        synchronized (threads) {
            threads.add(t);
        }
        t.start();
        return t;
    }

    private void accept() {
        while (!listener.isClosed()) {
            Socket plain;
            try {
                plain = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            if (active.get() >= MAX_CONNECTIONS) {
                failures.add("more than " + MAX_CONNECTIONS + " connections at once: one closed");
                closeQuietly(plain);
                continue;
            }
            open.add(plain);
            active.incrementAndGet();
            int n = serial.incrementAndGet();
            thread("tls-forwarder-" + n + "-up", () -> connect(plain, n));
        }
    }

    /** The probe, the handshake, then this thread copies client to front end and a second one the other way. */
    private void connect(Socket plain, int n) {
        Socket tcp = new Socket();
        open.add(tcp);
        SSLSocket ssl;
        try {
            tcp.connect(new InetSocketAddress(host, frontEndPort), CONNECT_MS);
            // RPC records go on at once, as the NFS client's own sockets send them (no Nagle delay per hop)
            tcp.setTcpNoDelay(true);
            plain.setTcpNoDelay(true);
            tcp.setSoTimeout(HANDSHAKE_MS);
            java.util.function.Consumer<SSLSocket> tls13 = s -> {
                SSLParameters p = s.getSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3"});
                p.setApplicationProtocols(new String[] {"sunrpc"});
                s.setSSLParameters(p);
            };
            if (probe) {
                ssl = FrontEndHarness.startTls(tcp, frontEndPort, tls, tls13);
            } else {
                ssl = (SSLSocket) tls.getSocketFactory().createSocket(tcp, "localhost", frontEndPort, true);
                tls13.accept(ssl);
                ssl.startHandshake();
            }
            tcp.setSoTimeout(0);
            open.add(ssl);
            cipherSuites.add(ssl.getSession().getCipherSuite());
            sessions.incrementAndGet();
        } catch (IOException e) {
            failures.add("connection " + n + ": " + e);
            closeQuietly(tcp);
            closeQuietly(plain);
            open.remove(tcp);
            open.remove(plain);
            active.decrementAndGet();
            return;
        }
        thread("tls-forwarder-" + n + "-down", () -> pump(ssl, plain, ssl, tcp));
        pump(plain, ssl, ssl, tcp);
        active.decrementAndGet(); // the other pump ends at once: this one closed both sockets
    }

    /** Copies until either side ends, then closes both (the other pump then ends too). */
    private void pump(Socket from, Socket to, SSLSocket ssl, Socket tcp) {
        byte[] buf = new byte[64 * 1024];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            for (int r; (r = in.read(buf)) >= 0;) {
                out.write(buf, 0, r);
            }
        } catch (IOException e) {
            // either side closed or reset: the connection is over
        } finally {
            Socket plain = from == ssl ? to : from;
            closeQuietly(ssl); // a close_notify, then its TCP socket
            closeQuietly(plain);
            open.remove(ssl);
            open.remove(tcp);
            open.remove(plain);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Closes the listener and every connection, and waits (bounded) for every thread to end. */
    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : open) {
            closeQuietly(s);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Thread t : List.copyOf(threads)) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (acceptor.isAlive()) {
            throw new IOException("the forwarder's acceptor did not end");
        }
    }
}
