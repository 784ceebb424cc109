package org.rpctlsservd.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.UsageException;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.handshake.Handshaker;

/** Configurations and loopback socket pairs for tests. */
public final class TestDaemons {
    private TestDaemons() {
    }

    /** A foreground, verbose daemon on a free loopback port and a socket of its own; --rpc-insecure, so tests may call from any port. */
    public static Config config(int maxThreads, int connectQueue, boolean rpcbind) {
        return config(maxThreads, connectQueue, rpcbind, true);
    }

    /** As {@link #config(int, int, boolean)}; {@code insecure} false: session procedures only from privileged callers. */
    public static Config config(int maxThreads, int connectQueue, boolean rpcbind, boolean insecure) {
        Path pid;
        Path socket;
        try {
            pid = Files.createTempFile("rpctlssd", ".pid");
            socket = Files.createTempDirectory("rpctlssd").resolve("rpctlssd.sock");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("-d", "-v", "-n", "example.org", "-N",
                Integer.toString(maxThreads), "--connect-queue", Integer.toString(connectQueue), "--io-threads", "2",
                "--pidfile", pid.toString(), "--rpc-socket", socket.toString()));
        if (!rpcbind) {
            args.add("--no-rpcbind");
        }
        if (insecure) {
            args.add("--rpc-insecure");
        }
        try {
            return new Cli("rpc.tlsservd", Math.max(2, maxThreads), "test.example.org", h -> null).parse(args.toArray(new String[0]));
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    public static Daemon start(int maxThreads, int connectQueue, Handshaker h) throws IOException {
        return Daemon.start(config(maxThreads, connectQueue, false), h);
    }

    /** A connected loopback pair: [0] is the accepted (server) end, [1] the client end. */
    public static SocketChannel[] pair() throws IOException {
        try (ServerSocketChannel ss = ServerSocketChannel.open()) {
            ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            SocketChannel client = SocketChannel.open(ss.getLocalAddress());
            SocketChannel server = ss.accept();
            return new SocketChannel[] {server, client};
        }
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
