package org.rpctlsservd.rpcbind;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Vector;
import java.util.concurrent.ScheduledExecutorService;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcDumpResult;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcGetPortResult;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.OncRpcServerIdent;
import org.acplt.oncrpc.XdrBoolean;
import org.acplt.oncrpc.XdrVoid;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.rpc.RpcDispatcher;
import org.rpctlsservd.rpc.RpcProgram;
import org.rpctlsservd.rpc.RpcServer;
import org.rpctlsservd.rpc.ServerLimits;

/**
 * A portmap version 2 server bound to loopback only, for machines without rpcbind. Remote Tea's
 * jportmap binds every interface, and a portmapper exposed to the network is a reflection tool;
 * CALLIT (the amplifier) is not offered at all. SET and UNSET are taken only from reserved ports on
 * loopback, as rpcbind takes them, so no local user can replace a registration. Versions 3 and 4 get PROG_MISMATCH(2, 2), on
 * which libtirpc's rpcinfo falls back to version 2.
 */
public final class EmbeddedPortmapper implements RpcProgram, Closeable {
    private final List<OncRpcServerIdent> mappings = new ArrayList<>();
    private RpcServer server;

    private EmbeddedPortmapper() {
    }

    /** Starts a portmapper on {@code address} (normally 127.0.0.1:111). */
    public static EmbeddedPortmapper start(InetSocketAddress address, ScheduledExecutorService timer) throws IOException {
        if (!address.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("the embedded portmapper serves loopback only");
        }
        EmbeddedPortmapper p = new EmbeddedPortmapper();
        RpcDispatcher d = new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(p);
        p.server = RpcServer.start(address, d, ServerLimits.DEFAULT, timer);
        int port = p.server.port();
        synchronized (p.mappings) {
            p.mappings.add(new OncRpcServerIdent(PortmapClient.PMAP_PROGRAM, PortmapClient.PMAP_VERSION, OncRpcProtocols.ONCRPC_TCP, port));
            p.mappings.add(new OncRpcServerIdent(PortmapClient.PMAP_PROGRAM, PortmapClient.PMAP_VERSION, OncRpcProtocols.ONCRPC_UDP, port));
        }
        return p;
    }

    public int port() {
        return server.port();
    }

    @Override
    public int program() {
        return PortmapClient.PMAP_PROGRAM;
    }

    @Override
    public int lowVersion() {
        return PortmapClient.PMAP_VERSION;
    }

    @Override
    public int highVersion() {
        return PortmapClient.PMAP_VERSION;
    }

    @Override
    public void dispatch(RpcCall call) throws OncRpcException, IOException {
        OncRpcServerIdent arg = new OncRpcServerIdent();
        switch (call.header().procedure) {
            case PortmapClient.PMAPPROC_NULL:
                call.info().retrieveCall(XdrVoid.XDR_VOID);
                call.replySuccess(XdrVoid.XDR_VOID);
                break;
            case PortmapClient.PMAPPROC_SET:
                call.info().retrieveCall(arg);
                call.replySuccess(new XdrBoolean(local(call) && set(arg)));
                break;
            case PortmapClient.PMAPPROC_UNSET:
                call.info().retrieveCall(arg);
                call.replySuccess(new XdrBoolean(local(call) && unset(arg.program, arg.version)));
                break;
            case PortmapClient.PMAPPROC_GETPORT: {
                call.info().retrieveCall(arg);
                OncRpcGetPortResult r = new OncRpcGetPortResult();
                r.port = getPort(arg.program, arg.version, arg.protocol);
                call.replySuccess(r);
                break;
            }
            case PortmapClient.PMAPPROC_DUMP: {
                call.info().retrieveCall(XdrVoid.XDR_VOID);
                OncRpcDumpResult r = new OncRpcDumpResult();
                r.servers = new Vector<>(list());
                call.replySuccess(r);
                break;
            }
            default:
                call.replyAccepted(OncRpcAcceptStatus.ONCRPC_PROC_UNAVAIL);
        }
    }

    /** As rpcbind judges SET and UNSET: from loopback, and from a reserved port (which only root can bind). */
    private static boolean local(RpcCall call) {
        InetAddress a = call.sink().peer() == null ? null : call.sink().peer().getAddress();
        return a != null && a.isLoopbackAddress() && call.sink().privileged();
    }

    /** Adds a mapping; false when (program, version, protocol) is already mapped. */
    public boolean set(OncRpcServerIdent m) {
        synchronized (mappings) {
            for (OncRpcServerIdent e : mappings) {
                if (e.program == m.program && e.version == m.version && e.protocol == m.protocol) {
                    return false;
                }
            }
            mappings.add(new OncRpcServerIdent(m.program, m.version, m.protocol, m.port));
            return true;
        }
    }

    /** Removes every mapping of (program, version); false when there was none. */
    public boolean unset(int program, int version) {
        synchronized (mappings) {
            return mappings.removeIf(e -> e.program == program && e.version == version && program != PortmapClient.PMAP_PROGRAM);
        }
    }

    public int getPort(int program, int version, int protocol) {
        synchronized (mappings) {
            for (OncRpcServerIdent e : mappings) {
                if (e.program == program && e.version == version && e.protocol == protocol) {
                    return e.port;
                }
            }
            return 0;
        }
    }

    public List<OncRpcServerIdent> list() {
        synchronized (mappings) {
            return new ArrayList<>(mappings);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
