package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.tls.TlsServerProtocol;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.cli.Config;

/**
 * For the benchmark's comparison: the daemon's own TLS server (same crypto, credentials and
 * suites) run bare, as Bouncy Castle's blocking engine on a socket, with nothing around it: no
 * probe, no upcall, no hand-off, no selector. Threads are named {@code bare-N}.
 */
public final class BareEngine implements Closeable {
    private final ServerSocket listener;
    private final ExecutorService workers;
    private final Thread acceptor;

    public BareEngine(ServerCredentials credentials, int threads) throws IOException {
        RecordCrypto crypto = new RecordCrypto(new SecureRandom());
        org.bouncycastle.tls.crypto.TlsCertificate[] chain = Signers.parse(crypto, credentials);
        TlsPolicy policy = new TlsPolicy(false, TlsPolicy.DEFAULT_TLS13, false, Duration.ofSeconds(10), false, false,
                Config.NO_WILDCARDS, false, "@example.org", false, TlsPolicy.DEFAULT_GROUPS);
        AtomicInteger serial = new AtomicInteger();
        workers = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "bare-" + serial.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        listener = java.nio.channels.ServerSocketChannel.open().bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096)
                .socket();
        acceptor = new Thread(() -> {
            while (!listener.isClosed()) {
                try {
                    Socket s = listener.accept();
                    s.setTcpNoDelay(true);
                    workers.submit(() -> {
                        // Bouncy Castle's non-blocking engine on a blocking socket: read, offer, write, nothing else
                        try (java.nio.channels.SocketChannel ch = s.getChannel()) {
                            TlsServerProtocol p = new TlsServerProtocol();
                            RpcTlsServer server = new RpcTlsServer(crypto, credentials, chain, policy, List.of());
                            p.accept(server);
                            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(16 * 1024);
                            while (!server.complete()) {
                                write(p, ch);
                                int n = ch.read(buf);
                                if (n < 0) {
                                    return null;
                                }
                                p.offerInput(buf.array(), 0, n);
                                buf.clear();
                            }
                            p.close(); // close_notify, as DISCONNECT sends
                            write(p, ch);
                        } catch (IOException e) {
                            // the client went: next
                        }
                        return null;
                    });
                } catch (IOException e) {
                    return;
                }
            }
        }, "bare-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private static void write(TlsServerProtocol p, java.nio.channels.SocketChannel ch) throws IOException {
        int avail;
        while ((avail = p.getAvailableOutputBytes()) > 0) {
            java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(avail);
            p.readOutput(out, avail);
            out.flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
        }
    }

    /**
     * The bare engine as a process of its own, for tools/bench-handshake --compare (so that its whole
     * CPU, GC and compilers included, can be read from /proc). Arguments: the credentials directory,
     * the number of threads, a file to write the port to once it listens. Runs until killed.
     */
    public static void main(String[] args) throws Exception {
        BareEngine b = new BareEngine(ServerCredentials.load(args[0]), Integer.parseInt(args[1]));
        java.nio.file.Path tmp = java.nio.file.Path.of(args[2] + ".tmp");
        java.nio.file.Files.writeString(tmp, String.valueOf(b.port()));
        java.nio.file.Files.move(tmp, java.nio.file.Path.of(args[2]), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        new java.util.concurrent.CountDownLatch(1).await();
    }

    public int port() {
        return listener.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        workers.shutdownNow();
    }
}
