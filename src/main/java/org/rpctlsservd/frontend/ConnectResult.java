package org.rpctlsservd.frontend;

import java.io.IOException;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.XdrAble;
import org.acplt.oncrpc.XdrDecodingStream;
import org.acplt.oncrpc.XdrEncodingStream;
import org.rpctlsservd.handshake.HandshakeOutcome;

/**
 * The CONNECT result as the front end decodes it: like the generated rpctlssd_connect_res, but the
 * gid count is checked (at most NGROUPS) before anything is allocated, since the FreeBSD kernel's
 * trust in gid_len is a known hardening gap that this side does not repeat.
 */
final class ConnectResult implements XdrAble {
    int flags;
    int uid;
    int[] gids = new int[0];

    @Override
    public void xdrEncode(XdrEncodingStream xdr) throws OncRpcException, IOException {
        xdr.xdrEncodeInt(flags);
        xdr.xdrEncodeInt(uid);
        xdr.xdrEncodeInt(gids.length);
        for (int g : gids) {
            xdr.xdrEncodeInt(g);
        }
    }

    @Override
    public void xdrDecode(XdrDecodingStream xdr) throws OncRpcException, IOException {
        flags = xdr.xdrDecodeInt();
        uid = xdr.xdrDecodeInt();
        int n = xdr.xdrDecodeInt();
        if (n < 0 || n > HandshakeOutcome.NGROUPS) {
            throw new OncRpcException("CONNECT result with " + Integer.toUnsignedString(n) + " gids");
        }
        gids = new int[n];
        for (int i = 0; i < n; i++) {
            gids[i] = xdr.xdrDecodeInt();
        }
    }
}
