// Over 300 lines: the source-port search, its hand-over between connections and their timeouts are one connect's steps, read together.
package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;

/**
 * The stage that opens a connection's backend connection, without blocking, when its first call
 * must be relayed: at most {@link ConnectPermits#LIMIT} connects are in progress front-end-wide
 * (each with a timeout), further connections wait in a bounded queue for a permit, handed to them
 * on their own loop; with --backend-source-ports, from a source port of {@link SourcePorts}, room
 * made for it when all are in use ({@link PortRoom}). Used on its connection's loop only.
 */
final class BackendConnect {
    /** A connect not done within this is given up (and a wait for a source port ends). */
    static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(5);

    private final ConnectionServices services;
    private final Member owner;
    private final IoLoop io;
    /** The server this connection's listener relays to. */
    private final InetSocketAddress backend;
    /** What the outcome is reported under to /ready's BackendHealth: the address, or a connector's server name ({@link #healthAs}). */
    private InetSocketAddress healthKey;
    private final Runnable connected;
    private final Consumer<String> failed;
    private final BooleanSupplier closed;
    /** Every source port toward the backend was in use: the owner refuses the call that needed the connection, saying why. */
    private final Consumer<String> portsExhausted;
    /** Its place in the permits' queue: the permit handed to it on its own loop. */
    private final Runnable granted;
    /** Where a port handed over to it goes: to its own loop. */
    private final Consumer<SourcePorts.Lease> heirOfPort;
    private SocketChannel channel;
    /** The local port it is bound to (with --backend-source-ports), given back at close; read by other loops' scans. */
    private volatile SourcePorts.Lease lease;
    /** Who gets the source port when this closes: the newcomer it was closed to make room for (set from that one's loop). */
    private volatile Consumer<SourcePorts.Lease> heir;
    /** Waiting for a source port that a connection closed to make room gives back; at most once. */
    private boolean waitingForPort;
    private boolean waitedForPort;
    private boolean isConnected;
    /** In the front end's queue of connections waiting to start their backend connect. */
    private boolean waiting;
    /** Holds one of the front end's permits for a connect in progress. */
    private boolean permit;
    private ScheduledFuture<?> timeout;
    /** How the log names the owner, the side connected to, and the option of its source ports (the front end's or the connector's). */
    private final String who;
    private final String side;
    private final String sourceOption;

    /**
     * @param connected called once the connection is made
     * @param failed    the connect failed, timed out, or too many wait: the owner tears down with this reason
     */
    BackendConnect(ConnectionServices services, Member owner, InetSocketAddress backend, Runnable connected,
            Consumer<String> failed, BooleanSupplier closed, Consumer<String> portsExhausted) {
        this(services, owner, backend, connected, failed, closed, portsExhausted, false);
    }

    /** {@code toServer}: the connector's connect to its RFC 9289 server (the log says "connector", "the server", --server-source). */
    BackendConnect(ConnectionServices services, Member owner, InetSocketAddress backend, Runnable connected,
            Consumer<String> failed, BooleanSupplier closed, Consumer<String> portsExhausted, boolean toServer) {
        this.who = toServer ? "connector" : "front end";
        this.side = toServer ? "the server" : "the backend";
        this.sourceOption = toServer ? "--server-source" : "--backend-source";
        this.services = services;
        this.owner = owner;
        this.io = services.io();
        this.backend = backend;
        this.connected = connected;
        this.failed = failed;
        this.closed = closed;
        this.portsExhausted = portsExhausted;
        this.healthKey = backend;
        this.granted = () -> io.submit(this::permitGranted);
        this.heirOfPort = l -> io.submit(() -> portHandedOver(l));
    }

    /** What /ready tracks this connect's outcome under (BackendHealth): a connector's server given by name is tracked by its name. */
    BackendConnect healthAs(InetSocketAddress key) {
        this.healthKey = key;
        return this;
    }

    /** The backend's channel once the connect started; null before. */
    SocketChannel channel() {
        return channel;
    }

    boolean connected() {
        return isConnected;
    }

    /** Its place in the permits' queue while it waits for one, else null. */
    Runnable waitingForPermit() {
        return waiting ? granted : null;
    }

    /** Starts the connect, or queues for a permit; does nothing when one is started or queued already. */
    void start() {
        if (closed.getAsBoolean() || channel != null || waiting || permit) {
            return; // started already (a permit is held from open() until connected or failed): the records queued go then
        }
        if (!services.permits().tryAcquire()) {
            waiting = true;
            if (services.permits().waitFor(granted)) {
                return; // its turn comes with a permit (permitGranted)
            }
            waiting = false;
            services.warnings().warning("backend-connects", () -> who + ": closing a client: " + ConnectPermits.LIMIT
                    + " backend connections are being made and " + ConnectPermits.MAX_WAITING + " more wait (backend "
                    + LogText.address(backend) + " slow or down?)");
            failed.accept("too many backend connections pending");
            return;
        }
        open();
    }

    /** A finished connect handed its permit to this waiting connection. */
    private void permitGranted() {
        waiting = false;
        if (closed.getAsBoolean() || channel != null) {
            services.permits().released();
            return;
        }
        open();
    }

    private void open() {
        permit = true;
        try {
            if (!services.sourcePorts().binds()) {
                channel = socket();
                if (channel.connect(backend)) {
                    done();
                    return;
                }
            } else if (connectFromSourcePort()) {
                return; // connected, or refused
            }
        } catch (IOException e) {
            fail(LogText.why(e, side));
            return;
        }
        armConnectTimeout();
    }

    /** A connect in progress: given up after the timeout, finished when the socket is connectable. */
    private void armConnectTimeout() {
        timeout = services.later(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS, () -> {
            if (!isConnected && !closed.getAsBoolean()) {
                fail("no connection within " + TIMEOUT.toMillis() + " ms");
            }
        });
        io.onConnectable(channel, this::connectable);
    }

    void portHeir(Consumer<SourcePorts.Lease> c) {
        heir = c;
    }

    /** True when this connection holds a source port toward {@code b} (from any thread). */
    boolean holdsPortTo(InetSocketAddress b) {
        return lease != null && backend.equals(b);
    }

    private static SocketChannel socket() throws IOException {
        SocketChannel ch = SocketChannel.open();
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        return ch;
    }

    /**
     * Binds a port of --backend-source-ports and starts the connect from it, trying the next port
     * while one turns out taken (by another program, or in TIME_WAIT toward this backend); true when
     * it is over already (connected at once, or every port in use: the client is refused).
     */
    private boolean connectFromSourcePort() throws IOException {
        java.util.List<SourcePorts.Lease> taken = new java.util.ArrayList<>();
        try {
            while (true) {
                SourcePorts.Lease l = services.sourcePorts().take(backend);
                if (l == null) {
                    if (!waitedForPort && services.makePortRoom(owner, backend, heirOfPort)) {
                        waitingForPort = true; // portHandedOver() comes when the one closed to make room gives its port back
                        waitedForPort = true;
                        timeout = services.later(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS, () -> {
                            if (waitingForPort && channel == null && !closed.getAsBoolean()) {
                                waitingForPort = false; // its port never came (it closed by itself first): one more search
                                searchAgain();
                            }
                        });
                        return true;
                    }
                    portsExhausted(taken.size());
                    return true;
                }
                try {
                    return connectFrom(l);
                } catch (IOException e) {
                    if (!SourcePorts.taken(e)) {
                        services.sourcePorts().release(l);
                        throw e;
                    }
                    taken.add(l); // held until this attempt ends, so the next take moves on
                }
            }
        } finally {
            for (SourcePorts.Lease l : taken) {
                services.sourcePorts().release(l);
            }
        }
    }

    /**
     * Binds {@code l} and starts the connect from it; true when connected at once. On failure the
     * socket is closed and the lease is the caller's again.
     */
    private boolean connectFrom(SourcePorts.Lease l) throws IOException {
        SocketChannel ch = socket();
        try {
            SourcePorts.bind(ch, l);
            channel = ch;
            lease = l;
            if (ch.connect(backend)) {
                done();
                return true;
            }
            return false;
        } catch (IOException e) {
            channel = null;
            lease = null;
            Channels.closeQuietly(ch);
            throw e;
        }
    }

    /** A search of the source ports after the wait for one ended (no second wait): connect, or refuse. */
    private void searchAgain() {
        try {
            if (!connectFromSourcePort()) {
                armConnectTimeout();
            }
        } catch (IOException e) {
            fail(LogText.why(e, side));
        }
    }

    /**
     * On this loop: the port a connection closed to make room held, handed straight to this one
     * (nobody else can take it meanwhile); passed on when this one no longer waits.
     */
    private void portHandedOver(SourcePorts.Lease given) {
        if (!waitingForPort || channel != null || closed.getAsBoolean()) {
            services.sourcePorts().release(given);
            return;
        }
        waitingForPort = false;
        if (timeout != null) {
            timeout.cancel(false);
        }
        try {
            if (!connectFrom(given)) {
                armConnectTimeout();
            }
        } catch (IOException e) {
            services.sourcePorts().release(given); // not usable after all: back to the pool, and the search goes on
            searchAgain();
        }
    }

    /** Every source port toward the backend is in use: the client is refused, said, and counted. */
    private void portsExhausted(int takenElsewhere) {
        int inUse = services.sourcePorts().inUse(backend) - takenElsewhere;
        services.stats().countSourcePortsExhausted();
        portsExhausted.accept(inUse + " connections to " + side + " " + LogText.address(backend) + " use ports " + services.sourcePorts().describe()
                + (takenElsewhere > 0 ? " and " + takenElsewhere + " more are taken by other programs" : "")
                + "; the client is closed (widen " + sourceOption + "-ports or add " + sourceOption + " addresses)");
        failed.accept("reserved ports exhausted toward " + side + " " + LogText.address(backend));
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
            fail(LogText.why(e, side));
            return;
        }
        done();
    }

    private void done() {
        isConnected = true;
        services.backendHealth().succeeded(healthKey);
        releasePermit();
        connected.run();
    }

    private void fail(String why) {
        services.backendHealth().failed(healthKey, why);
        // the connector's by server (few, fixed by --connect), so one server down does not hide another
        String kind = who.equals("connector") ? "connector-connect-failed " + LogText.address(backend) : "backend-connect";
        services.warnings().warning(kind, () -> who + ": cannot reach " + side + " " + LogText.address(backend) + ": " + why);
        failed.accept(side.substring(4) + " " + LogText.address(backend) + ": " + why);
    }

    /** The connect finished, failed or was given up: its permit goes to the next waiting connection. */
    private void releasePermit() {
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (permit) {
            permit = false;
            services.permits().released();
        }
    }

    /**
     * A reserved port is closed with a reset, not a FIN: a FIN would leave it in TIME_WAIT for a
     * minute toward this backend, and with a few hundred ports a minute of churn would use them all
     * (toward a remote backend, where the kernel never reuses TIME_WAIT ports: six new clients a
     * second). What is lost is what the connection had not delivered when it closed: bytes still in
     * its send buffer and those the backend had not read (calls of a client that is gone, whose
     * replies nobody would read).
     */
    private static void abortive(SocketChannel ch) {
        try {
            ch.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException e) {
            // closing anyway
        }
    }

    /**
     * Whoever closes the socket from now on closes it with a reset when it holds a reserved port (see
     * {@link #abortive}): for the connector's server socket, which the handshake and then the
     * session's DISCONNECT close, not this class.
     */
    void resetOnClose() {
        if (lease != null && channel != null) {
            abortive(channel);
        }
    }

    /** The connection is closing: the permit goes back (also when opening the socket itself failed), the channel is closed. */
    void close() {
        releasePermit();
        if (channel != null) {
            io.forget(channel);
            if (lease != null) {
                abortive(channel);
            }
            Channels.closeQuietly(channel);
        }
        SourcePorts.Lease l = lease;
        if (l != null) {
            lease = null;
            Consumer<SourcePorts.Lease> h = heir;
            // Once the socket is truly closed (a registered channel's descriptor outlives close() until
            // the loop's selector lets go of it): a port handed on before that cannot connect anew.
            io.afterForgotten(() -> {
                if (h != null) {
                    h.accept(l); // to the heir's loop, still marked in use: nobody else takes it meanwhile
                } else {
                    services.sourcePorts().release(l);
                }
            });
        }
        waitingForPort = false;
        waiting = false;
    }
}
