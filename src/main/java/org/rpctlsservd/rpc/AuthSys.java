package org.rpctlsservd.rpc;

import java.nio.charset.StandardCharsets;
import org.acplt.oncrpc.OncRpcException;

/**
 * An AUTH_SYS (AUTH_UNIX) credential body, RFC 5531 appendix A. Decoded by hand because Remote
 * Tea's decoder allocates the gid array from the count on the wire before checking it.
 */
public final class AuthSys {
    public final int stamp;
    public final String machineName;
    public final int uid;
    public final int gid;
    public final int[] gids;

    public AuthSys(int stamp, String machineName, int uid, int gid, int[] gids) {
        this.stamp = stamp;
        this.machineName = machineName;
        this.uid = uid;
        this.gid = gid;
        this.gids = gids.clone();
    }

    /** The body, or null when it is malformed (too long a name, over 16 gids, wrong length). */
    public static AuthSys decode(byte[] record, int offset, int length) {
        XdrReader r = new XdrReader(record, offset, length);
        try {
            int stamp = r.xdrDecodeInt();
            int nameLength = r.xdrDecodeInt();
            if (nameLength < 0 || nameLength > CallHeader.MAX_MACHINE_NAME) {
                return null;
            }
            byte[] name = r.xdrDecodeOpaque(nameLength);
            int uid = r.xdrDecodeInt();
            int gid = r.xdrDecodeInt();
            int count = r.xdrDecodeInt();
            if (count < 0 || count > CallHeader.MAX_AUTH_SYS_GIDS || count * 4 > r.remaining()) {
                return null;
            }
            int[] gids = new int[count];
            for (int i = 0; i < count; i++) {
                gids[i] = r.xdrDecodeInt();
            }
            if (r.remaining() != 0) {
                return null;
            }
            return new AuthSys(stamp, new String(name, StandardCharsets.UTF_8), uid, gid, gids);
        } catch (OncRpcException e) {
            return null;
        }
    }

    /** Encodes this credential's body (without flavor and length). */
    public void encodeBody(XdrWriter w) {
        byte[] name = machineName.getBytes(StandardCharsets.UTF_8);
        w.xdrEncodeInt(stamp);
        w.xdrEncodeInt(name.length);
        w.xdrEncodeOpaque(name, 0, name.length);
        w.xdrEncodeInt(uid);
        w.xdrEncodeInt(gid);
        w.xdrEncodeInt(gids.length);
        for (int g : gids) {
            w.xdrEncodeInt(g);
        }
    }
}
