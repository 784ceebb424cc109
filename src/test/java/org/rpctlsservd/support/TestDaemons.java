package org.rpctlsservd.support;

import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.frontend.Require;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.rpctlsservd.cli.Config;
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
        return new Config(false, null, "/etc/rpc.tlsservd/", 1, false, null, false, maxThreads, "@example.org",
                null, null, false, true, Config.NO_WILDCARDS, pid,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64, connectQueue, Duration.ofMinutes(10),
                rpcbind, 111, Duration.ofSeconds(10), false, false, java.util.List.of(), null, Require.NONE,
                Duration.ofMinutes(6), Duration.ofSeconds(15), Config.DEFAULT_WRITE_TIMEOUT, 0, socket, insecure, 2, null, false, null, java.util.List.of(), java.util.List.of(), false, java.util.List.of(), 0, null, null,
                Config.DEFAULT_MAX_CLIENTS, Config.DEFAULT_FIRST_CALL_TIMEOUT, java.util.List.of(), SourcePortRange.RESERVED,
                java.util.List.of(), java.util.logging.Level.FINE, Config.DEFAULT_SYSLOG_FACILITY);
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
