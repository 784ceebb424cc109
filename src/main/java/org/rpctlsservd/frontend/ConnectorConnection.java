package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;

/**
 * One connection of the connector (rpc.tlsclntd --connect), the front end's stages composed the
 * other way round: the accepted client speaks plain RPC, and the server it is taken to (connected
 * at once, by {@link BackendConnect}: permits, reserved source ports) gets TLS after the STARTTLS
 * probe ({@link ServerStartTls}, the RPCTLSCD CONNECT upcall). Then bytes pass both ways as they
 * come (backchannel calls and their replies too): the client's through {@link TlsRecords}
 * (encrypted) to the server, the server's through it (decrypted) to the client. What the client
 * sends before the session is held there, bounded by {@link BackPressure} and counted in the
 * budget. The teardown (DISCONNECT upcall, both sockets, ports, memory, slot) is {@link MemberBase}'s.
 */
final class ConnectorConnection extends MemberBase {
    /** The first bytes of the client, enough for its first call's program and version (the probe names them). */
    private final byte[] first = new byte[24];
    private int firstLength;
    private final Connect connect;
    private final TlsRecords tls;
    private final ServerStartTls startTls;
    private final BackPressure backPressure;
    /** Connects the server once its name is resolved; read by other loops' port scans. */
    private volatile BackendConnect server;
    /** --allow-plain and the server did not answer STARTTLS: bytes pass as they are. */
    private boolean plain;

    ConnectorConnection(ConnectionServices services, SocketChannel client, InetSocketAddress peer, Connect connect) {
        super(services, client, peer, "the server", false);
        this.connect = connect;
        this.tls = new TlsRecords(c, c.toBackend, null);
        tls.hold(); // the probe is the server's first bytes: the client's wait for the session
        this.startTls = new ServerStartTls(c, tls, connect, new ServerStartTls.Outcome() {
            @Override
            public void established() {
                fromServerTls(null); // what the handshake kept of the server's first records
                release();
            }

            @Override
            public void plain() {
                plain = true;
                c.earn(Member.EARNED);
                release();
            }
        });
        this.backPressure = new BackPressure(c, this::clientReadable, this::serverReadable, c.toClient::footprint,
                () -> c.toBackend.footprint() + tls.footprint(), this::serverToRead);
    }

    /** On the loop: the server is resolved ({@code address}) or could not be (null, {@code why}); the connect starts. */
    void start(InetSocketAddress address, String why) {
        if (c.closed()) {
            return;
        }
        if (address == null) {
            c.services.backendHealth().failed(connect.healthKey(), "not resolved: " + why);
            c.services.warnings().warning("connector-resolve " + connect.server(), () -> "connector: cannot resolve server " + connect.server() + ": " + why);
            teardown("server " + connect.server() + " not resolved");
            return;
        }
        BackendConnect b = new BackendConnect(c.services, this, address, this::serverConnected, this::teardown, c::closed,
                w -> c.services.warnings().warning("connector-source-ports", () -> "connector: " + w), true).healthAs(connect.healthKey());
        server = b;
        b.start();
        clientReadable(); // bytes that came with the connection are held at once
        account();
    }

    /** With TLS up with the server, or relaying in plain text (--allow-plain, the server knowing no STARTTLS). */
    @Override
    protected boolean relaying() {
        return c.state == Connection.State.TLS || plain;
    }

    /** The server's socket while this side may read it: connected, and not with the handshake. */
    private SocketChannel serverToRead() {
        BackendConnect b = server;
        return b != null && b.connected() && c.state != Connection.State.HANDSHAKING ? b.channel() : null;
    }

    private void serverConnected() {
        server.resetOnClose(); // the session closes it after the hand-over: no reserved port left in TIME_WAIT
        c.toBackend.open(server.channel());
        startTls.probe(server.channel(), StartTlsProbe.programOf(first, firstLength));
        armBackendRead();
        account();
    }

    /** What was held for the session (or for the probe's answer) goes, and the client is read on. */
    private void release() {
        tls.releaseHeld();
        tls.flush();
        account();
        armBackendRead();
        armClientRead();
    }

    // ---- from the client (plain) ----

    private void clientReadable() {
        if (!c.reading()) {
            return;
        }
        Doom d = doom();
        if (d != null) {
            teardown("closed to protect the others: " + d.why().label());
            return;
        }
        ByteBuffer buf = c.readDirect(c.client, "the client"); // its plain bytes are sealed (or passed on) from where they were read
        if (buf == null) {
            return;
        }
        c.lastFromClient = c.lastActivity;
        if (firstLength < first.length) {
            int n = Math.min(first.length - firstLength, buf.remaining());
            buf.get(buf.position(), first, firstLength, n);
            firstLength += n;
        }
        tls.write(buf); // held, encrypted, or plain as the state says
        if (!tls.holding()) {
            tls.flush();
        }
        account();
        armClientRead();
    }

    // ---- from the server ----

    private void serverReadable() {
        if (c.closed() || c.draining || c.state == Connection.State.HANDSHAKING) {
            return;
        }
        // once TLS (or plain text) is agreed, the direct buffer where records are opened there in place, or plain bytes written from it
        boolean direct = tls.session() != null ? tls.opensDirect() : plain;
        ByteBuffer buf = direct ? c.readDirect(server.channel(), "the server") : c.readSome(server.channel(), "the server");
        if (buf == null) {
            return;
        }
        if (tls.session() != null) {
            fromServerTls(buf);
            return;
        }
        if (plain) {
            c.toClient.lend(buf); // written from the read buffer; copied only if the client does not take it now
            c.toClient.flush();
        } else {
            try {
                startTls.fromServer(buf);
            } catch (IOException e) { // not even RPC record marking: said, as a reply that is no RPC reply is
                String why = LogText.why(e, "the server");
                c.services.warnings().warning("connector-no-starttls " + connect.server(), () -> "connector: server " + connect.server()
                        + " did not answer STARTTLS (garbage instead of a reply: " + why + ")");
                teardown("bad reply to the STARTTLS probe: " + why);
                return;
            }
        }
        account();
        armBackendRead();
    }

    /** TLS records from the server ({@code encrypted} null: what the handshake kept) to the client, decrypted. */
    private void fromServerTls(ByteBuffer encrypted) {
        try {
            // the session hands on views of the records it opened in place: written from there, copied only if they must wait
            if (tls.decrypt(encrypted, c.toClient::lend)) {
                c.toClient.flush(); // the server's last replies, which came with its close_notify
                closeNotifyReceived();
                return;
            }
        } catch (EstablishedSession.ShutOffException e) {
            teardown(e.getMessage());
            return;
        } catch (IOException e) {
            c.toClient.flush(); // what came before the refused record, as far as the client takes it now
            teardown("bad input from the server: " + LogText.why(e, "the server"));
            return;
        } finally {
            account();
        }
        c.toClient.flush();
        armBackendRead();
    }

    // ---- back-pressure and the budget ----

    @Override
    protected BackPressure backPressure() {
        return backPressure;
    }

    @Override
    public void clientWritable() {
        c.toClient.flush();
        account();
    }

    @Override
    public void backendWritable() {
        tls.flush();
        account();
    }

    /** What the connection holds: both queues, what waits for the session (unfinished: the first to go when memory runs out). */
    @Override
    public void account() {
        boolean closed = c.closed();
        long unfinished = tls.footprint() + startTls.footprint();
        long now = closed ? 0
                : c.toClient.footprint() + c.toBackend.footprint() + unfinished + tls.cipherBytes()
                        + (tls.session() != null || c.state == Connection.State.HANDSHAKING ? ClientConnection.TLS_OVERHEAD
                                : ClientConnection.PLAIN_OVERHEAD);
        report(now, closed ? 0 : unfinished);
    }

    // ---- the end: MemberBase's ----

    @Override
    protected TlsRecords tlsStage() {
        return tls;
    }

    @Override
    protected BackendConnect connector() {
        return server;
    }

    /** A server that stopped reading is the operator's to know of (a client that did is only the client's). */
    @Override
    protected void writeTimedOut(Outbound o, long seconds) {
        if (o == c.toBackend) {
            c.services.warnings().warning("connector-write-timeout " + connect.server(), () -> "connector: server " + connect.server()
                    + " took no bytes for " + seconds + " s (--write-timeout, " + o.bytes + " bytes waiting): closing its clients");
        }
    }

    @Override
    public String server() {
        return connect.server();
    }

    @Override
    protected String name() {
        return "connector " + LogText.address(c.peer) + " to " + connect.server();
    }
}
