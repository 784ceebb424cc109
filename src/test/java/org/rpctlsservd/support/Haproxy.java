package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (Debian's haproxy, installed by tools/test), in TCP mode, in the foreground,
 * logging each connection's client address (as a PROXY header gave it, when it takes one) to
 * its stdout, which the test reads.
 */
public final class Haproxy implements Closeable {
    public final int port;
    private final Process process;
    private final Path log;

    /**
     * Listens on 127.0.0.1:port and relays to {@code server}; {@code bindOptions} (e.g. "accept-proxy")
     * and {@code serverOptions} (e.g. "send-proxy-v2") as HAProxy's configuration spells them.
     */
    public Haproxy(Path dir, String bindOptions, int serverPort, String serverOptions) throws Exception {
        Files.createDirectories(dir);
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path cfg = dir.resolve("haproxy.cfg");
        log = dir.resolve("haproxy.log");
        Files.writeString(cfg, String.join("\n",
                "global",
                "    log stdout format raw local0",
                "defaults",
                "    mode tcp",
                "    log global",
                "    option logasap",
                "    log-format \"proxied client=%ci:%cp frontend=%fi:%fp\"",
                "    timeout connect 5s",
                "    timeout client 30s",
                "    timeout server 30s",
                "frontend in",
                "    bind 127.0.0.1:" + port + " " + bindOptions,
                "    default_backend out",
                "backend out",
                "    server s1 127.0.0.1:" + serverPort + " " + serverOptions,
                ""), StandardCharsets.US_ASCII);
        process = new ProcessBuilder(List.of("haproxy", "-db", "-f", cfg.toString())).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        Await.until(() -> listening() || !process.isAlive(), "haproxy to listen", 30);
        if (!process.isAlive()) {
            throw new IOException("haproxy did not start: " + log());
        }
    }

    private boolean listening() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
