package org.rpctlsservd.daemon;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.handshake.HandshakeWorkers;
import org.rpctlsservd.handshake.Handshaker;
import org.rpctlsservd.rpc.RpcDispatcher;
import org.rpctlsservd.rpc.RpcServer;
import org.rpctlsservd.rpc.ServerLimits;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpcbind.Registration;
import org.rpctlsservd.service.RpctlssdService;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;

/**
 * One running daemon: the RPCTLSSD service on TCP and UDP, its handshake workers, the hand-off
 * registry and session table, and its rpcbind registration. It owns all of them and ends them
 * in {@link #close()}.
 */
public final class Daemon implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final Config config;
    private final ScheduledExecutorService timer;
    private final SocketHandoff handoff = new SocketHandoff();
    private final SessionTable sessions = new SessionTable();
    private final HandshakeWorkers workers;
    private final RpcServer server;
    private final Registration registration;
    private boolean closed;

    private Daemon(Config config, Handshaker handshaker) throws IOException {
        this.config = config;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "rpctlssd-timer");
            t.setDaemon(true);
            return t;
        });
        this.workers = new HandshakeWorkers(config.maxThreads(), config.connectQueue());
        RpcServer started = null;
        try {
            RpctlssdService service = new RpctlssdService(handoff, sessions, workers, handshaker);
            RpcDispatcher dispatcher = new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(service);
            ServerLimits limits = new ServerLimits(config.maxConnections(), ServerLimits.DEFAULT.maxRecordBytes(),
                    config.rpcIdleTimeout(), ServerLimits.DEFAULT.writeTimeout());
            started = RpcServer.start(config.rpcAddress(), dispatcher, limits, timer);
        } catch (IOException | OncRpcException | RuntimeException e) {
            workers.close();
            timer.shutdownNow();
            throw new IOException("Can't create transport for local rpctlssd socket: " + e.getMessage(), e);
        }
        this.server = started;
        this.registration = config.rpcbind()
                ? Registration.register(rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, server.port(), config.portmapPort(), timer)
                : null;
        LOG.info("serving RPCTLSSD (" + Integer.toUnsignedString(rpctlssd.RPCTLSSD) + ") version "
                + rpctlssd.RPCTLSSDVERS + " on " + server.address().getHostAddress() + " port " + server.port()
                + " (tcp, udp); at most " + workers.maxThreads() + " handshakes at once");
    }

    /** Starts the daemon's services (no pidfile, no signals: those belong to {@link Main}). */
    public static Daemon start(Config config, Handshaker handshaker) throws IOException {
        return new Daemon(config, handshaker);
    }

    public Config config() {
        return config;
    }

    public int port() {
        return server.port();
    }

    public RpcServer server() {
        return server;
    }

    public SocketHandoff handoff() {
        return handoff;
    }

    public SessionTable sessions() {
        return sessions;
    }

    public HandshakeWorkers workers() {
        return workers;
    }

    public Registration registration() {
        return registration;
    }

    /** SIGHUP: the hook where certificate, key and CRL reloads go. */
    public void reload() {
        LOG.fine("SIGHUP: nothing to reload");
    }

    /** Orderly stop: unregister, stop serving, end every session and parked socket. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (registration != null) {
            registration.close();
        }
        server.close();
        workers.close();
        sessions.abortAll();
        handoff.closeAll();
        timer.shutdownNow();
        LOG.info("stopped");
    }
}
