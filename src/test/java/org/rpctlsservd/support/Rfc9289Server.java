package org.rpctlsservd.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * src/test/python/rfc9289_server.py as a process: an RFC 9289 server on OpenSSL, not the product's
 * TLS stack. Its program, procedures and log lines are described in the script.
 */
public final class Rfc9289Server extends LoggedProcess {
    public static final int PROGRAM = 0x20009289;
    public static final int NULL = 0;
    public static final int ECHO = 1;
    public static final int PEER = 2;
    public static final int CALLBACK = 3;
    public static final int CALLBACK_REPLY = 4;
    public static final int BACKCHANNEL = 0x20009290;
    public static final int BACKCHANNEL_XID = 0x7B000001;

    public final int port;

    private Rfc9289Server(Process process, Path log, int port) {
        super(process, log);
        this.port = port;
    }

    /**
     * Serves {@code certDir}'s cert.pem and certkey.pem; {@code options} are the script's further
     * ones (--ca FILE, --no-starttls autherror|plain). Returns once it listens.
     */
    public static Rfc9289Server start(Path dir, Path certDir, String... options) throws IOException {
        Path log = dir.resolve("rfc9289_server.log");
        List<String> cmd = new ArrayList<>(List.of("python3", Path.of("src", "test", "python", "rfc9289_server.py").toAbsolutePath().toString(),
                "--cert", certDir.resolve("cert.pem").toString(), "--key", certDir.resolve("certkey.pem").toString()));
        cmd.addAll(List.of(options));
        Files.createDirectories(dir);
        Process p = Commands.startLogged(cmd, log, Map.of());
        awaitLine(p, log, "READY ", "the Python RFC 9289 server", 30);
        Matcher m = Pattern.compile("READY (\\d+)").matcher(read(log));
        if (!m.find()) {
            p.destroyForcibly();
            throw new AssertionError("the Python RFC 9289 server named no port: " + read(log));
        }
        return new Rfc9289Server(p, log, Integer.parseInt(m.group(1)));
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
}
