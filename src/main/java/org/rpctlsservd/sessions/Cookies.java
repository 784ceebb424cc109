package org.rpctlsservd.sessions;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * How a cookie appears in log lines. The cookie is the capability that ends or drives a TLS
 * session, and logs are read by more people than root: at the default level only a short tag
 * (32 bits of its SHA-256) appears, enough to correlate lines and useless for forging a call.
 * The whole cookie is shown only with -v.
 */
public final class Cookies {
    private Cookies() {
    }

    /** For example {@code conn=3fa2c91b}. */
    public static String tag(long cookie) {
        MessageDigest sha256 = SHA256.get(); // one per thread: no provider look-up for every handshake's audit line
        byte[] d = sha256.digest(ByteBuffer.allocate(8).putLong(cookie).array());
        return "conn=" + HexFormat.of().formatHex(d, 0, 4);
    }

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    });

    /** The whole cookie, for -v lines only. */
    public static String full(long cookie) {
        return "0x" + Long.toUnsignedString(cookie, 16);
    }
}
