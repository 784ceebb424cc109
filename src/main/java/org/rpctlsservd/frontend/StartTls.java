package org.rpctlsservd.frontend;

import java.util.function.BiConsumer;

/**
 * Probe and park: once the reply to the client's STARTTLS probe has gone (the last clear text, see
 * {@link TlsRecords}), the client socket is parked with the daemon's hand-off registry and the
 * CONNECT upcall hands it to the handshake, as the FreeBSD kernel does; the upcall's answer comes
 * back on the connection's loop. Reading stops meanwhile: the handshake owns the socket.
 */
final class StartTls {
    private final Connection c;
    /** The CONNECT upcall's answer, on the connection's loop. */
    private final BiConsumer<ConnectResult, Throwable> answered;

    StartTls(Connection c, BiConsumer<ConnectResult, Throwable> answered) {
        this.c = c;
        this.answered = answered;
    }

    void park() {
        c.state = Connection.State.HANDSHAKING;
        c.earned = Member.BUSY;
        c.cookie = c.services.park(c.client, c.peer); // the daemon's audit line and -h check name the client, not a balancer
        c.services.upcalls().connect(c.cookie).whenComplete((res, err) -> c.onLoop(() -> answered.accept(res, err)));
    }
}
