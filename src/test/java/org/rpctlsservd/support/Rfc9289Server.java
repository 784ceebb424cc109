package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * src/test/python/rfc9289_server.py as a process: an RFC 9289 server on OpenSSL, not the product's
 * TLS stack. Its program, procedures and log lines are described in the script.
 */
public final class Rfc9289Server implements Closeable {
    public static final int PROGRAM = 0x20009289;
    public static final int NULL = 0;
    public static final int ECHO = 1;
    public static final int PEER = 2;
    public static final int CALLBACK = 3;
    public static final int CALLBACK_REPLY = 4;
    public static final int BACKCHANNEL = 0x20009290;
    public static final int BACKCHANNEL_XID = 0x7B000001;

    public final Process process;
    public final Path log;
    public final int port;

    private Rfc9289Server(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /**
     * Serves {@code certDir}'s cert.pem and certkey.pem; {@code options} are the script's further
     * ones (--ca FILE, --no-starttls autherror|plain). Returns once it listens.
     */
    public static Rfc9289Server start(Path dir, Path certDir, String... options) throws IOException {
        Files.createDirectories(dir);
        Path log = dir.resolve("rfc9289_server.log");
        List<String> cmd = new ArrayList<>(List.of("python3", Path.of("src", "test", "python", "rfc9289_server.py").toAbsolutePath().toString(),
                "--cert", certDir.resolve("cert.pem").toString(), "--key", certDir.resolve("certkey.pem").toString()));
        cmd.addAll(List.of(options));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        Rfc9289Server s = new Rfc9289Server(p, log, 0);
        try {
            Await.until(() -> s.log().contains("READY ") || !p.isAlive(), "the Python RFC 9289 server to listen", 30);
        } catch (AssertionError e) {
            p.destroyForcibly();
            throw new AssertionError(e.getMessage() + ": " + s.log());
        }
        Matcher m = Pattern.compile("READY (\\d+)").matcher(s.log());
        if (!p.isAlive() || !m.find()) {
            p.destroyForcibly();
            throw new AssertionError("the Python RFC 9289 server did not start: " + s.log());
        }
        return new Rfc9289Server(p, log, Integer.parseInt(m.group(1)));
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Lines of its log that start with {@code prefix} ("tls ok", "call proc=", "plain call", ...). */
    public List<String> lines(String prefix) {
        return log().lines().filter(l -> l.startsWith(prefix)).toList();
    }

    /** The XDR of an opaque&lt;&gt; argument. */
    public static byte[] opaque(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + ((data.length + 3) & ~3));
        b.putInt(data.length).put(data);
        return b.array();
    }

    /** An opaque&lt;&gt; read from {@code b}'s position. */
    public static byte[] opaque(ByteBuffer b) {
        byte[] out = new byte[b.getInt()];
        b.get(out);
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
