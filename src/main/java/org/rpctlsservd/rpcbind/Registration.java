package org.rpctlsservd.rpcbind;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.OncRpcServerIdent;

/**
 * Registration of one program version (TCP and UDP, one port, and a Unix-domain socket under
 * netid "local") with a portmapper on loopback: the system's rpcbind when one answers, else an
 * embedded loopback-only portmapper (portmap v2: TCP and UDP only), else none (with a warning
 * that names the port). Closing it unsets the registration.
 */
public final class Registration implements Closeable {
    private static final Logger LOG = Logger.getLogger(Registration.class.getName());
    private static final int TIMEOUT_MILLIS = 1000;

    public enum Kind { SYSTEM_RPCBIND, EMBEDDED, NONE }

    private final Kind kind;
    private final int program;
    private final int version;
    private final int pmapPort;
    private final EmbeddedPortmapper embedded;

    private Registration(Kind kind, int program, int version, int pmapPort, EmbeddedPortmapper embedded) {
        this.kind = kind;
        this.program = program;
        this.version = version;
        this.pmapPort = pmapPort;
        this.embedded = embedded;
    }

    public Kind kind() {
        return kind;
    }

    /** The embedded portmapper, when this registration started one (null otherwise). */
    public EmbeddedPortmapper embedded() {
        return embedded;
    }

    /**
     * Unsets stale registrations of (program, version), then registers {@code port} for TCP and UDP
     * with the portmapper at 127.0.0.1:{@code pmapPort}.
     */
    public static Registration register(int program, int version, int port, java.nio.file.Path socket, int pmapPort,
            ScheduledExecutorService timer) {
        InetAddress lo = InetAddress.getLoopbackAddress();
        String what = "program " + Integer.toUnsignedString(program) + " version " + version;
        try (PortmapClient pm = PortmapClient.udp(lo, pmapPort, TIMEOUT_MILLIS)) {
            pm.ping();
            unsetAll(pm, pmapPort, program, version);
            boolean tcp = pm.set(program, version, OncRpcProtocols.ONCRPC_TCP, port);
            boolean udp = pm.set(program, version, OncRpcProtocols.ONCRPC_UDP, port);
            if (!tcp || !udp) {
                LOG.warning("rpcbind refused part of the registration of " + what + " (tcp " + tcp + ", udp " + udp + ")");
            }
            String local = "";
            if (socket != null) {
                try {
                    local = RpcbindLocal.set(pmapPort, program, version, socket.toString(), TIMEOUT_MILLIS)
                            ? " and " + socket + " (local)" : "";
                } catch (IOException | OncRpcException e) {
                    LOG.fine(() -> "rpcbind took no local registration: " + e.getMessage());
                }
            }
            LOG.info("registered " + what + " on port " + port + " (tcp, udp)" + local + " with rpcbind on 127.0.0.1:" + pmapPort);
            return new Registration(Kind.SYSTEM_RPCBIND, program, version, pmapPort, null);
        } catch (IOException | OncRpcException e) {
            LOG.fine(() -> "no portmapper answers on 127.0.0.1:" + pmapPort + ": " + e.getMessage());
        }
        try {
            EmbeddedPortmapper p = EmbeddedPortmapper.start(new InetSocketAddress(lo, pmapPort), timer);
            p.set(new OncRpcServerIdent(program, version, OncRpcProtocols.ONCRPC_TCP, port));
            p.set(new OncRpcServerIdent(program, version, OncRpcProtocols.ONCRPC_UDP, port));
            LOG.info("no rpcbind runs: started an embedded portmapper on 127.0.0.1:" + p.port()
                    + " and registered " + what + " on port " + port + " (tcp, udp)");
            return new Registration(Kind.EMBEDDED, program, version, pmapPort, p);
        } catch (IOException e) {
            LOG.warning("not registered with rpcbind: no portmapper answers on 127.0.0.1:" + pmapPort
                    + " and none can be started (" + e.getMessage() + "); " + what
                    + " is served on 127.0.0.1 port " + port + " (tcp, udp)");
            return new Registration(Kind.NONE, program, version, pmapPort, null);
        }
    }

    /** Every netid's registration of (program, version): rpcbind v4 when it answers, else portmap v2 (tcp and udp). */
    private static void unsetAll(PortmapClient pm, int pmapPort, int program, int version) throws OncRpcException {
        try {
            RpcbindLocal.unset(pmapPort, program, version, TIMEOUT_MILLIS);
        } catch (IOException | OncRpcException e) {
            LOG.fine(() -> "rpcbind v4 UNSET: " + e.getMessage());
        }
        pm.unset(program, version);
    }

    /** Unsets the registration (and stops an embedded portmapper). */
    @Override
    public void close() {
        switch (kind) {
            case SYSTEM_RPCBIND:
                try (PortmapClient pm = PortmapClient.udp(InetAddress.getLoopbackAddress(), pmapPort, TIMEOUT_MILLIS)) {
                    unsetAll(pm, pmapPort, program, version);
                } catch (IOException | OncRpcException e) {
                    LOG.warning("could not unset the rpcbind registration: " + e.getMessage());
                }
                break;
            case EMBEDDED:
                embedded.close();
                break;
            default:
                break;
        }
    }
}
