package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.rpctlsservd.io.IoLoop;

/**
 * The stage that opens a connection's backend connection, without blocking, when its first call
 * must be relayed: at most {@code backendConnectLimit} connects are in progress front-end-wide
 * (each with a timeout), further connections wait in the front end's bounded queue for a permit,
 * handed to them on their own loop. Used on its connection's loop only.
 */
final class BackendConnect {
    private final FrontEnd fe;
    private final ClientConnection owner;
    private final IoLoop io;
    private final Runnable connected;
    private final Consumer<String> failed;
    private final BooleanSupplier closed;
    private SocketChannel channel;
    private boolean isConnected;
    /** In the front end's queue of connections waiting to start their backend connect. */
    private boolean waiting;
    /** Holds one of the front end's permits for a connect in progress. */
    private boolean permit;
    private ScheduledFuture<?> timeout;

    /**
     * @param connected called once the connection is made
     * @param failed    the connect failed, timed out, or too many wait: the owner tears down with this reason
     */
    BackendConnect(FrontEnd fe, ClientConnection owner, IoLoop io, Runnable connected, Consumer<String> failed,
            BooleanSupplier closed) {
        this.fe = fe;
        this.owner = owner;
        this.io = io;
        this.connected = connected;
        this.failed = failed;
        this.closed = closed;
    }

    /** The backend's channel once the connect started; null before. */
    SocketChannel channel() {
        return channel;
    }

    boolean connected() {
        return isConnected;
    }

    boolean waiting() {
        return waiting;
    }

    /** Starts the connect, or queues for a permit; does nothing when one is started or queued already. */
    void start() {
        if (closed.getAsBoolean() || channel != null || waiting) {
            return;
        }
        if (!fe.backendConnects.tryAcquire()) {
            waiting = true;
            if (fe.waitForConnect(owner)) {
                return; // its turn comes with a permit (permitGranted)
            }
            waiting = false;
            fe.warnings.warning("backend-connects", () -> "front end: closing a client: " + fe.backendConnectLimit
                    + " backend connections are being made and " + FrontEnd.MAX_WAITING_CONNECTS + " more wait (backend "
                    + fe.backend + " slow or down?)");
            failed.accept("too many backend connections pending");
            return;
        }
        open();
    }

    /** A finished connect handed its permit to this waiting connection. */
    void permitGranted() {
        waiting = false;
        if (closed.getAsBoolean() || channel != null) {
            fe.connectPermitReleased();
            return;
        }
        open();
    }

    private void open() {
        permit = true;
        try {
            channel = SocketChannel.open();
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (channel.connect(fe.backend)) {
                done();
                return;
            }
        } catch (IOException e) {
            fail(e.getMessage());
            return;
        }
        timeout = fe.timer.schedule(() -> io.submit(() -> {
            if (!isConnected && !closed.getAsBoolean()) {
                fail("no connection within " + FrontEnd.BACKEND_CONNECT_TIMEOUT.toMillis() + " ms");
            }
        }), FrontEnd.BACKEND_CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        io.onConnectable(channel, this::connectable);
    }

    private void connectable() {
        if (closed.getAsBoolean() || isConnected) {
            return;
        }
        try {
            if (!channel.finishConnect()) {
                io.onConnectable(channel, this::connectable);
                return;
            }
        } catch (IOException e) {
            fail(e.getMessage());
            return;
        }
        done();
    }

    private void done() {
        isConnected = true;
        releasePermit();
        connected.run();
    }

    private void fail(String why) {
        fe.warnings.warning("backend-connect", () -> "front end: cannot reach the backend " + fe.backend + ": " + why);
        failed.accept("backend " + fe.backend + ": " + why);
    }

    /** The connect finished, failed or was given up: its permit goes to the next waiting connection. */
    private void releasePermit() {
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (permit) {
            permit = false;
            fe.connectPermitReleased();
        }
    }

    /** The connection is closing: the permit goes back (also when opening the socket itself failed), the channel is closed. */
    void close() {
        releasePermit();
        if (channel != null) {
            io.forget(channel);
            FrontEnd.closeQuietly(channel);
        }
        waiting = false;
    }
}
