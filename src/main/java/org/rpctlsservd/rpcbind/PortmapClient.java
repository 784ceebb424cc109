package org.rpctlsservd.rpcbind;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.acplt.oncrpc.OncRpcClient;
import org.acplt.oncrpc.OncRpcDumpResult;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcGetPortResult;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.OncRpcServerIdent;
import org.acplt.oncrpc.XdrBoolean;
import org.acplt.oncrpc.XdrVoid;

/**
 * Portmap version 2 calls to a portmapper on any port (Remote Tea's OncRpcPortmapClient is fixed
 * to port 111 and leaks its socket from register()). One UDP client, closed with this object.
 */
public final class PortmapClient implements Closeable {
    public static final int PMAP_PROGRAM = 100000;
    public static final int PMAP_VERSION = 2;
    static final int PMAPPROC_NULL = 0;
    static final int PMAPPROC_SET = 1;
    static final int PMAPPROC_UNSET = 2;
    static final int PMAPPROC_GETPORT = 3;
    static final int PMAPPROC_DUMP = 4;

    private final OncRpcClient client;

    public PortmapClient(InetAddress host, int port, int protocol, int timeoutMillis) throws IOException {
        try {
            client = OncRpcClient.newOncRpcClient(host, PMAP_PROGRAM, PMAP_VERSION, port, protocol);
        } catch (OncRpcException e) {
            throw new IOException("portmapper client: " + e.getMessage(), e);
        }
        client.setTimeout(timeoutMillis);
    }

    public static PortmapClient udp(InetAddress host, int port, int timeoutMillis) throws IOException {
        return new PortmapClient(host, port, OncRpcProtocols.ONCRPC_UDP, timeoutMillis);
    }

    public void ping() throws OncRpcException {
        client.call(PMAPPROC_NULL, XdrVoid.XDR_VOID, XdrVoid.XDR_VOID);
    }

    public boolean set(int program, int version, int protocol, int port) throws OncRpcException {
        XdrBoolean ok = new XdrBoolean(false);
        client.call(PMAPPROC_SET, new OncRpcServerIdent(program, version, protocol, port), ok);
        return ok.booleanValue();
    }

    public boolean unset(int program, int version) throws OncRpcException {
        XdrBoolean ok = new XdrBoolean(false);
        client.call(PMAPPROC_UNSET, new OncRpcServerIdent(program, version, 0, 0), ok);
        return ok.booleanValue();
    }

    public int getPort(int program, int version, int protocol) throws OncRpcException {
        OncRpcGetPortResult r = new OncRpcGetPortResult();
        client.call(PMAPPROC_GETPORT, new OncRpcServerIdent(program, version, protocol, 0), r);
        return r.port;
    }

    public List<OncRpcServerIdent> dump() throws OncRpcException {
        OncRpcDumpResult r = new OncRpcDumpResult();
        client.call(PMAPPROC_DUMP, XdrVoid.XDR_VOID, r);
        List<OncRpcServerIdent> out = new ArrayList<>();
        for (Object o : r.servers) {
            out.add((OncRpcServerIdent) o);
        }
        return out;
    }

    @Override
    public void close() {
        try {
            client.close();
        } catch (OncRpcException ignored) {
            // closing a UDP socket: nothing to report
        }
    }
}
