package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.acplt.oncrpc.OncRpcAcceptStatus;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.XdrAble;
import org.acplt.oncrpc.XdrDecodingStream;
import org.acplt.oncrpc.XdrEncodingStream;
import org.acplt.oncrpc.XdrVoid;
import org.rpctlsservd.rpc.AuthSys;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.rpc.RpcDispatcher;
import org.rpctlsservd.rpc.RpcProgram;
import org.rpctlsservd.rpc.RpcServer;
import org.rpctlsservd.rpc.ServerLimits;

/**
 * A plain ONC-RPC test backend (program 0x20000099 version 1): NULL, and WHOAMI (1), which answers
 * with the credential it received: flavor, then for AUTH_SYS uid, gid and the gid list.
 */
public final class EchoBackend implements RpcProgram, Closeable {
    public static final int PROGRAM = 0x20000099;
    public static final int WHOAMI = 1;
    /** WHOAMI with an opaque argument of any length (a large call), whose length the reply adds. */
    public static final int WHOAMI_WITH_DATA = 2;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final RpcServer server;
    public final AtomicInteger calls = new AtomicInteger();
    /** The highest xid of any call that reached it (for "nothing sent after this moment arrived"). */
    public final java.util.concurrent.atomic.AtomicInteger highestXid = new java.util.concurrent.atomic.AtomicInteger(Integer.MIN_VALUE);

    /** The address each call came from, last one (the front end's backend connection: its source port). */
    public volatile InetSocketAddress lastPeer;

    public EchoBackend() throws IOException {
        server = RpcServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(this),
                new ServerLimits(10_000, 64 * 1024, java.time.Duration.ofMinutes(10), java.time.Duration.ofSeconds(30)), timer);
    }

    public int port() {
        return server.port();
    }

    /** Connections open to this backend now. */
    public int connections() {
        return server.tcp().connectionCount();
    }

    @Override
    public int program() {
        return PROGRAM;
    }

    @Override
    public int lowVersion() {
        return 1;
    }

    @Override
    public int highVersion() {
        return 1;
    }

    @Override
    public void dispatch(RpcCall call) throws OncRpcException, IOException {
        lastPeer = call.sink().peer();
        calls.incrementAndGet();
        highestXid.accumulateAndGet(call.xid(), Math::max);
        int[] data = {-1};
        if (call.header().procedure == WHOAMI_WITH_DATA) {
            call.info().retrieveCall(new XdrAble() {
                @Override
                public void xdrEncode(XdrEncodingStream x) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public void xdrDecode(XdrDecodingStream x) throws OncRpcException, IOException {
                    data[0] = x.xdrDecodeDynamicOpaque().length;
                }
            });
        } else {
            call.info().retrieveCall(XdrVoid.XDR_VOID);
        }
        switch (call.header().procedure) {
            case 0:
                call.replySuccess(XdrVoid.XDR_VOID);
                break;
            case WHOAMI:
            case WHOAMI_WITH_DATA: {
                AuthSys a = call.header().authSys;
                int flavor = call.header().credFlavor;
                call.replySuccess(new XdrAble() {
                    @Override
                    public void xdrEncode(XdrEncodingStream x) throws OncRpcException, IOException {
                        x.xdrEncodeInt(flavor);
                        if (a != null) {
                            x.xdrEncodeInt(a.uid);
                            x.xdrEncodeInt(a.gid);
                            x.xdrEncodeIntVector(a.gids);
                        }
                        if (data[0] >= 0) {
                            x.xdrEncodeInt(data[0]);
                        }
                    }

                    @Override
                    public void xdrDecode(XdrDecodingStream x) {
                        throw new UnsupportedOperationException();
                    }
                });
                break;
            }
            default:
                call.replyAccepted(OncRpcAcceptStatus.ONCRPC_PROC_UNAVAIL);
        }
    }

    @Override
    public void close() {
        server.close();
        timer.shutdownNow();
    }
}
