package org.rpctlsservd.frontend;

import java.nio.charset.StandardCharsets;
import org.rpctlsservd.rpc.XdrWriter;

/** Reply messages the front end makes itself. */
final class Replies {
    private static final int REPLY = 1;
    private static final int MSG_ACCEPTED = 0;
    private static final int MSG_DENIED = 1;
    private static final int AUTH_ERROR = 1;
    private static final byte[] STARTTLS = "STARTTLS".getBytes(StandardCharsets.US_ASCII);

    private Replies() {
    }

    /** RFC 9289 section 4.1: MSG_ACCEPTED, SUCCESS, an AUTH_NONE verifier whose body is "STARTTLS". */
    static byte[] startTls(int xid) {
        XdrWriter w = new XdrWriter(40);
        w.xdrEncodeInt(xid);
        w.xdrEncodeInt(REPLY);
        w.xdrEncodeInt(MSG_ACCEPTED);
        w.xdrEncodeInt(0); // AUTH_NONE
        w.xdrEncodeInt(STARTTLS.length);
        w.xdrEncodeOpaque(STARTTLS, 0, STARTTLS.length);
        w.xdrEncodeInt(0); // SUCCESS
        return w.toByteArray();
    }

    static byte[] authError(int xid, int authStatus) {
        XdrWriter w = new XdrWriter(20);
        w.xdrEncodeInt(xid);
        w.xdrEncodeInt(REPLY);
        w.xdrEncodeInt(MSG_DENIED);
        w.xdrEncodeInt(AUTH_ERROR);
        w.xdrEncodeInt(authStatus);
        return w.toByteArray();
    }
}
