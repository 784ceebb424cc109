package org.rpctlsservd.frontend;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.rpc.CallHeader;

/**
 * The connector's STARTTLS probe (RFC 9289 section 4.1), as pure functions tested from bytes: the
 * NULL call with an AUTH_TLS credential, and what the server's reply means. Hand-written: the reply
 * is read whole by field (ten words), with every way it can differ from the one good answer named.
 */
final class StartTlsProbe {
    /** The probe's program when the client's first call has not come yet: NFS version 4 (any program works for RFC 9289). */
    static final int DEFAULT_PROGRAM = 100003;
    static final int DEFAULT_VERSION = 4;
    /** The largest reply the probe may get: a reply header and the largest verifier RFC 5531 allows. */
    static final int MAX_REPLY = 24 + CallHeader.MAX_AUTH_BYTES + 8;
    private static final byte[] STARTTLS = "STARTTLS".getBytes(StandardCharsets.US_ASCII);
    private static final int REPLY = 1;

    /** What the server answered: STARTTLS (the handshake may start), something else (said in words), or no RPC reply at all. */
    enum Kind { STARTTLS, NOT_STARTTLS, GARBAGE }

    record Answer(Kind kind, String what) {
    }

    private StartTlsProbe() {
    }

    /** The probe's call message (no record mark): NULL of {@code program} {@code version}, AUTH_TLS credential, AUTH_NONE verifier. */
    static byte[] call(int xid, int program, int version) {
        return ByteBuffer.allocate(40).putInt(xid).putInt(CallHeader.CALL).putInt(CallHeader.RPC_VERSION).putInt(program)
                .putInt(version).putInt(0).putInt(CallHeader.AUTH_TLS).putInt(0).putInt(0).putInt(0).array();
    }

    /**
     * The program and version of a client's first call, from its first bytes (record mark
     * included), as the probe uses them (FreeBSD's kernel probes with the mount's program); null
     * when fewer than 24 bytes came or they are not an RPC call.
     */
    static int[] programOf(byte[] first, int length) {
        if (length < 24) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(first, 0, length);
        b.getInt(); // record mark
        b.getInt(); // xid
        if (b.getInt() != CallHeader.CALL || b.getInt() != CallHeader.RPC_VERSION) {
            return null;
        }
        return new int[] {b.getInt(), b.getInt()};
    }

    /** What the reply record {@code rec} to the probe with {@code xid} says. */
    static Answer classify(byte[] rec, int xid) {
        ByteBuffer b = ByteBuffer.wrap(rec);
        try {
            int gotXid = b.getInt();
            int type = b.getInt();
            if (type != REPLY) {
                return garbage("a message of type " + Integer.toUnsignedString(type) + ", not a reply");
            }
            if (gotXid != xid) {
                return garbage("a reply to xid " + Integer.toUnsignedString(gotXid) + ", not to the probe's");
            }
            int replyStat = b.getInt();
            if (replyStat == 1) {
                int reject = b.getInt();
                String what = "MSG_DENIED, " + LogText.rejectStat(reject);
                return not(reject == 1 ? what + " " + LogText.authStat(b.getInt()) : what);
            }
            if (replyStat != 0) {
                return garbage("reply_stat " + Integer.toUnsignedString(replyStat));
            }
            int flavor = b.getInt();
            int length = b.getInt();
            if (length < 0 || length > CallHeader.MAX_AUTH_BYTES) {
                return garbage("a verifier of " + Integer.toUnsignedString(length) + " bytes");
            }
            byte[] body = new byte[length];
            b.get(body);
            b.position(b.position() + (-length & 3));
            int accept = b.getInt();
            if (accept != 0) {
                return not("MSG_ACCEPTED, " + LogText.acceptStat(accept));
            }
            if (b.hasRemaining()) {
                return garbage("a NULL reply with " + b.remaining() + " bytes of results");
            }
            if (flavor != 0 || !Arrays.equals(body, STARTTLS)) {
                return not("SUCCESS " + (flavor == 0 && length == 0 ? "with no verifier"
                        : "with a verifier of flavor " + Integer.toUnsignedString(flavor) + " and " + length + " bytes")
                        + ", not AUTH_NONE \"STARTTLS\"");
            }
            return new Answer(Kind.STARTTLS, "STARTTLS");
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            return garbage("a reply of " + rec.length + " bytes, cut short");
        }
    }

    private static Answer not(String what) {
        return new Answer(Kind.NOT_STARTTLS, what);
    }

    private static Answer garbage(String what) {
        return new Answer(Kind.GARBAGE, what);
    }
}
