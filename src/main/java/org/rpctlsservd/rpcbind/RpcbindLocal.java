package org.rpctlsservd.rpcbind;

import java.io.IOException;
import java.net.InetAddress;
import org.acplt.oncrpc.OncRpcClient;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.XdrAble;
import org.acplt.oncrpc.XdrBoolean;
import org.acplt.oncrpc.XdrDecodingStream;
import org.acplt.oncrpc.XdrEncodingStream;

/**
 * rpcbind version 4 SET and UNSET (RFC 1833), for the registration that portmap version 2
 * cannot express: the Unix-domain socket under netid "local", as libtirpc's svc_reg() does, and
 * one netid's entry set or removed without touching the others'.
 * Remote Tea speaks only portmap v2, so the rpcb argument is written here with its XDR classes.
 */
final class RpcbindLocal {
    static final int RPCBVERS4 = 4;
    static final int RPCBPROC_SET = 1;
    static final int RPCBPROC_UNSET = 2;

    private RpcbindLocal() {
    }

    /** struct rpcb: program, version, netid, universal address, owner. */
    private static final class Rpcb implements XdrAble {
        final int program;
        final int version;
        final String netid;
        final String addr;
        final String owner;

        Rpcb(int program, int version, String netid, String addr, String owner) {
            this.program = program;
            this.version = version;
            this.netid = netid;
            this.addr = addr;
            this.owner = owner;
        }

        @Override
        public void xdrEncode(XdrEncodingStream x) throws OncRpcException, IOException {
            x.xdrEncodeInt(program);
            x.xdrEncodeInt(version);
            x.xdrEncodeString(netid);
            x.xdrEncodeString(addr);
            x.xdrEncodeString(owner);
        }

        @Override
        public void xdrDecode(XdrDecodingStream x) {
            throw new UnsupportedOperationException("only sent");
        }
    }

    /** Registers {@code path} for (program, version) under netid "local"; false when rpcbind refused. */
    static boolean set(int pmapPort, int program, int version, String path, int timeoutMillis) throws IOException, OncRpcException {
        return call(pmapPort, RPCBPROC_SET, new Rpcb(program, version, "local", path, "superuser"), timeoutMillis);
    }

    /** Registers (program, version) at universal address {@code uaddr} under {@code netid} ("tcp", "tcp6"); false when refused. */
    static boolean set(int pmapPort, int program, int version, String netid, String uaddr, int timeoutMillis)
            throws IOException, OncRpcException {
        return call(pmapPort, RPCBPROC_SET, new Rpcb(program, version, netid, uaddr, "superuser"), timeoutMillis);
    }

    /** Removes the registration of (program, version) under {@code netid} only, leaving the other netids' alone. */
    static boolean unset(int pmapPort, int program, int version, String netid, int timeoutMillis) throws IOException, OncRpcException {
        return call(pmapPort, RPCBPROC_UNSET, new Rpcb(program, version, netid, "", "superuser"), timeoutMillis);
    }

    /** Removes every registration of (program, version), whatever its netid (an empty netid means all). */
    static boolean unset(int pmapPort, int program, int version, int timeoutMillis) throws IOException, OncRpcException {
        return call(pmapPort, RPCBPROC_UNSET, new Rpcb(program, version, "", "", "superuser"), timeoutMillis);
    }

    /** GETVERSADDR: the address of exactly this version (GETADDR answers with any version's when this one is missing). */
    static final int RPCBPROC_GETVERSADDR = 9;

    /**
     * The universal address registered for (program, version) under {@code netid} ("tcp" or
     * "tcp6"); empty when none is. rpcbind answers for the netid of the transport the question
     * came on, not the one in its argument: so it is asked over TCP, on ::1 for tcp6.
     */
    static String getAddr(int pmapPort, int program, int version, String netid, int timeoutMillis) throws IOException, OncRpcException {
        InetAddress at = InetAddress.getByName(netid.equals("tcp6") ? "::1" : "127.0.0.1");
        OncRpcClient c = OncRpcClient.newOncRpcClient(at, PortmapClient.PMAP_PROGRAM, RPCBVERS4, pmapPort, OncRpcProtocols.ONCRPC_TCP);
        try {
            c.setTimeout(timeoutMillis);
            org.acplt.oncrpc.XdrString addr = new org.acplt.oncrpc.XdrString();
            c.call(RPCBPROC_GETVERSADDR, new Rpcb(program, version, netid, "", ""), addr);
            return addr.stringValue() == null ? "" : addr.stringValue();
        } finally {
            c.close();
        }
    }

    private static boolean call(int pmapPort, int procedure, Rpcb arg, int timeoutMillis) throws IOException, OncRpcException {
        OncRpcClient c = OncRpcClient.newOncRpcClient(InetAddress.getLoopbackAddress(), PortmapClient.PMAP_PROGRAM, RPCBVERS4,
                pmapPort, OncRpcProtocols.ONCRPC_UDP);
        try {
            c.setTimeout(timeoutMillis);
            XdrBoolean ok = new XdrBoolean(false);
            c.call(procedure, arg, ok);
            return ok.booleanValue();
        } finally {
            c.close();
        }
    }
}
