package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * rpc.tlsclntd (the client daemon, with its connector) as a separate process, started by its
 * launcher tools/rpc.tlsclntd on the packaged jar, as {@link DaemonProcess} starts the server.
 */
public final class ClientDaemonProcess implements Closeable {
    /** What its log says once it serves RPCTLSCD (and its connectors listen). */
    public static final String SERVING = "serving RPCTLSCD";
    /** A client handshake's audit line: the server's address, then the result. */
    public static final Pattern HANDSHAKE = Pattern.compile("handshake server=(\\S+) .*result=(\\w+)(?: .*reason=\"([^\"]*)\")?");

    public final Process process;
    public final Path log;

    private ClientDaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts it with {@code args} and a capped heap, output in {@code dir/clntd.log}, and waits until it serves. */
    public static ClientDaemonProcess start(Path dir, String... args) throws Exception {
        Files.createDirectories(dir);
        Path log = dir.resolve("clntd.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of("tools", "rpc.tlsclntd").toAbsolutePath().toString());
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("RPCTLSSERVD_JAVA_OPTS", "-Xmx256m");
        pb.environment().put("RPCTLSSERVD_JAR", DaemonProcess.packagedJar().toString());
        Process p = pb.start();
        ClientDaemonProcess d = new ClientDaemonProcess(p, log);
        try {
            Await.until(() -> d.log().contains(SERVING) || !p.isAlive(), "rpc.tlsclntd to start", 60);
        } catch (AssertionError e) {
            p.destroyForcibly();
            throw new AssertionError(e.getMessage() + ": " + d.log());
        }
        if (!p.isAlive()) {
            throw new AssertionError("rpc.tlsclntd did not start: " + d.log());
        }
        return d;
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** The {@code result=} of every client handshake so far, in order ("ok", "failed"). */
    public List<String> handshakeResults() {
        List<String> out = new ArrayList<>();
        Matcher m = HANDSHAKE.matcher(log());
        while (m.find()) {
            out.add(m.group(2));
        }
        return out;
    }

    /** The reasons of the failed client handshakes so far. */
    public List<String> failureReasons() {
        List<String> out = new ArrayList<>();
        Matcher m = HANDSHAKE.matcher(log());
        while (m.find()) {
            if (!"ok".equals(m.group(2)) && m.group(3) != null) {
                out.add(m.group(3));
            }
        }
        return out;
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
