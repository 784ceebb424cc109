package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.metrics.Metrics;

/**
 * The per-connection context every stage sees (as a Netty handler sees its context), in either
 * composition: a {@link ClientConnection} (the front end: TLS on the accepted client's side) or a
 * {@link ConnectorConnection} (the connector: the accepted client plain, TLS toward the server it
 * connects to, which plays the backend's part here). It holds the loop's services, the accepted
 * client's socket, the two outbound queues, the state of the TLS side and what its handshake
 * established, and the few things a stage may ask of the whole connection ({@link Events}:
 * account, re-arm reads, tear down). It knows no stage. Used on its loop only, but for the fields
 * marked volatile, which the shared services read.
 */
final class Connection {
    enum State { PLAIN, HANDSHAKING, TLS, CLOSED }

    /** What a stage may ask of the whole connection; the connection's wiring ({@link ClientConnection}) answers. */
    interface Events {
        /** Reports what the connection holds now to the memory budget. */
        void account();

        /** Reads the client again, unless back-pressure holds it. */
        void armClientRead();

        /** Reads the backend again, unless back-pressure holds it. */
        void armBackendRead();

        /** The client's queue fell below its low-water mark. */
        void clientDrained();

        /** The client's socket takes bytes again after it was full. */
        void clientWritable();

        /** The backend's queue fell below its low-water mark. */
        void backendDrained();

        /** The backend's socket takes bytes again after it was full (or it was connected). */
        void backendWritable();

        /** Closes both sides, saying why in the log. */
        void teardown(String reason);

        /** The client's side ({@code client}) or the other one closed the connection (read EOF): see MemberBase#endAfterQueues. */
        void peerClosed(boolean client, String reason);

        /** Closes the sockets and forgets the connection, with no upcall (after DISCONNECT, or when there is no session). */
        void closeAll();
    }

    /** Back-pressure: a side that does not read stops the other side being read, so queues stay bounded. */
    static final long LOW_WATER = 256L * 1024;

    final ConnectionServices services;
    final IoLoop io;
    final SocketChannel client;
    final Events events;
    final Outbound toClient;
    final Outbound toBackend;
    /** The connected side in the log: "the backend" (front end) or "the server" (connector). */
    final String backendSide;
    /** TLS is on the accepted client's side (front end): its socket is the handshake's while it runs. */
    final boolean tlsOnClient;
    /** The client: the socket's peer, or the source a trusted balancer's PROXY header named. */
    InetSocketAddress peer;
    /** What the client connected to: this socket's local address, or the destination of the PROXY header. */
    InetSocketAddress destination;
    volatile State state = State.PLAIN;
    /** A clean end is under way: nothing more is read from either side while what is queued goes (MemberBase#endAfterQueues). */
    boolean draining;
    /** What the connection has earned ({@link Member#UNEARNED}...). */
    volatile int earned = Member.UNEARNED;
    final long acceptedAt = System.nanoTime();
    volatile long lastActivity = acceptedAt;
    /** When bytes last came from the client. */
    volatile long lastFromClient = acceptedAt;
    /** The cookie the socket was parked under for the handshake. */
    long cookie;
    /** What the CONNECT upcall answered: the session's flags, and the certificate user's uid and gids. */
    volatile int flags;
    int uid;
    int[] gids = new int[0];

    Connection(ConnectionServices services, SocketChannel client, InetSocketAddress peer, Events events, String backendSide,
            boolean tlsOnClient) {
        this.services = services;
        this.backendSide = backendSide;
        this.tlsOnClient = tlsOnClient;
        this.io = services.io();
        this.client = client;
        this.peer = peer;
        this.events = events;
        try {
            this.destination = (InetSocketAddress) client.getLocalAddress();
        } catch (IOException e) {
            this.destination = new InetSocketAddress(0);
        }
        this.toClient = new Outbound(io, "the client", LOW_WATER, events::clientDrained, events::clientWritable, events::teardown,
                n -> {
                    progressed();
                    Metrics.toClient(n);
                }, this::closed, services.stats().peakQueuedCounter(), services::lent);
        this.toBackend = new Outbound(io, backendSide, LOW_WATER, events::backendDrained, events::backendWritable,
                events::teardown, n -> {
                    progressed();
                    Metrics.toBackend(n);
                }, this::closed, services.stats().peakQueuedCounter(), services::lent);
        toClient.open(client);
    }

    boolean closed() {
        return state == State.CLOSED;
    }

    /** The client is read in these states only (not while the handshake has its socket, nor once closed). */
    boolean reading() {
        return !draining && (state == State.PLAIN || state == State.TLS || state == State.HANDSHAKING && !tlsOnClient);
    }

    void progressed() {
        lastActivity = System.nanoTime();
    }

    /** Earned enough not to be the first one closed when room must be made. */
    void earn(int level) {
        if (earned < level) {
            earned = level;
        }
    }

    /** True when the connection has reached --require (read from any thread: a snapshot). */
    boolean meetsRequire() {
        return CallPolicy.level(state == State.TLS, flags).ordinal() >= services.settings().require().ordinal();
    }

    /** What {@code ch} has now, in the loop's shared read buffer; null when it ended (the connection is torn down). */
    ByteBuffer readSome(SocketChannel ch, String side) {
        return readInto(services.readBuffer(), ch, side);
    }

    /**
     * As {@link #readSome}, into the loop's direct buffer (once the native AEADs are ready): for
     * the backend's plain bytes and an established session's TLS records, which the socket fills
     * without NIO's copy.
     */
    ByteBuffer readDirect(SocketChannel ch, String side) {
        return readInto(services.directReadBuffer(), ch, side);
    }

    private ByteBuffer readInto(ByteBuffer buf, SocketChannel ch, String side) {
        try {
            if (ch.read(buf) < 0) {
                events.peerClosed(ch == client, side + " closed the connection");
                return null;
            }
        } catch (IOException e) {
            events.teardown("reading from " + side + " failed: " + LogText.why(e, side));
            return null;
        }
        lastActivity = System.nanoTime();
        buf.flip();
        return buf;
    }

    /** Runs {@code r} on this connection's loop: at once when already there (an upcall answered on it). */
    void onLoop(Runnable r) {
        if (io.inLoop()) {
            r.run();
        } else {
            io.submit(r);
        }
    }

    /** From any thread: closes this connection on its own loop, after what that loop is doing now. */
    void closeSoon(String reason) {
        io.submit(() -> events.teardown(reason));
    }
}
