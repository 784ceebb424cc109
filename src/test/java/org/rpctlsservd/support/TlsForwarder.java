package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 */
public final class TlsForwarder implements Closeable {
    /** Connections served at once; more are closed at accept (a test never needs many). */
    static final int MAX_CONNECTIONS = 32;
    private static final int CONNECT_MS = 5000;
    private static final int HANDSHAKE_MS = 20_000;

    private final String host;
    private final int frontEndPort;
    private final SSLContext tls;
    private final ServerSocket listener;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger sessions = new AtomicInteger();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final AtomicInteger serial = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final Thread acceptor;

    /** Forwards to the front end at {@code host:frontEndPort}, TLS set up by {@code tls}. */
    public TlsForwarder(String host, int frontEndPort, SSLContext tls) throws IOException {
        this.host = host;
        this.frontEndPort = frontEndPort;
        this.tls = tls;
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

    /** What went wrong with connections so far (the probe, the handshake), for assertions and messages. */
    public List<String> failures() {
        return List.copyOf(failures);
    }

    private Thread thread(String name, Runnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } finally {
                threads.remove(Thread.currentThread());
            }
        }, name);
        t.setDaemon(true); // one left blocked never keeps the test JVM alive
        threads.add(t);
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
            tcp.setSoTimeout(HANDSHAKE_MS);
            ssl = FrontEndHarness.startTls(tcp, frontEndPort, tls, s -> {
                SSLParameters p = s.getSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3"});
                p.setApplicationProtocols(new String[] {"sunrpc"});
                s.setSSLParameters(p);
            });
            tcp.setSoTimeout(0);
            open.add(ssl);
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
