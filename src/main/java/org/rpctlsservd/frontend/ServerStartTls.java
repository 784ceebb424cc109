package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.rpc.RecordParser;

/**
 * The connector's STARTTLS stage, the kernel's part toward an RFC 9289 server: the probe
 * ({@link StartTlsProbe}) goes as the last clear text, the server's reply is read; "STARTTLS" parks
 * the server socket and makes the RPCTLSCD CONNECT upcall; its answer gives the connection its
 * session (reterr 0) or closes it. A server that does not answer STARTTLS is refused with a
 * warning, or relayed in plain text with --allow-plain; one that never answers is closed by
 * --first-call-timeout (the connection earns nothing meanwhile).
 */
final class ServerStartTls {
    private static final SecureRandom XIDS = new SecureRandom();

    /** What the composition does with the outcome. */
    interface Outcome {
        /** The session is established: held bytes go, encrypted. */
        void established();

        /** --allow-plain and no STARTTLS: held bytes go as they are, and the server's bytes pass as they come. */
        void plain();
    }

    private final Connection c;
    private final TlsRecords tls;
    private final Connect connect;
    private final Outcome outcome;
    private final int xid = XIDS.nextInt();
    private final RecordParser reply = new RecordParser(StartTlsProbe.MAX_REPLY);
    private boolean answered;
    private SocketChannel server;

    ServerStartTls(Connection c, TlsRecords tls, Connect connect, Outcome outcome) {
        this.c = c;
        this.tls = tls;
        this.connect = connect;
        this.outcome = outcome;
    }

    /** Bytes of the reply not yet whole, for the memory budget. */
    long footprint() {
        return reply.footprint();
    }

    /**
     * The server is connected: the probe goes, before what is held. It names the client's program
     * and version when its first call came already (as FreeBSD's kernel probes with the mount's
     * program), else NFS version 4 ({@code programVersion} null).
     */
    void probe(SocketChannel ch, int[] programVersion) {
        this.server = ch;
        int program = programVersion == null ? StartTlsProbe.DEFAULT_PROGRAM : programVersion[0];
        int version = programVersion == null ? StartTlsProbe.DEFAULT_VERSION : programVersion[1];
        c.toBackend.add(RecordParser.framed(StartTlsProbe.call(xid, program, version)));
        c.toBackend.flush();
    }

    /** Clear-text bytes from the server before TLS: the probe's reply. */
    void fromServer(ByteBuffer buf) throws IOException {
        reply.feed(buf, this::answer);
    }

    private void answer(byte[] rec) {
        if (c.closed()) {
            return;
        }
        if (answered) {
            c.events.teardown("the server sent more than its reply to the STARTTLS probe");
            return;
        }
        answered = true;
        StartTlsProbe.Answer a = StartTlsProbe.classify(rec, xid);
        if (a.kind() == StartTlsProbe.Kind.STARTTLS) {
            park();
            return;
        }
        String line = "connector: server " + connect.server() + " did not answer STARTTLS (" + a.what() + ")";
        if (a.kind() == StartTlsProbe.Kind.NOT_STARTTLS && c.services.settings().allowPlain()) {
            c.services.warnings().warning("connector-plain " + connect.server(), () -> line + "; relaying in plain text (--allow-plain)");
            outcome.plain();
            return;
        }
        // keyed by server (the set --connect fixed): a second misconfigured server within the interval is named too
        c.services.warnings().warning("connector-no-starttls " + connect.server(), () -> line);
        c.events.teardown("the server did not answer STARTTLS");
    }

    /** Hands the server socket to the client daemon's handshake (RPCTLSCD CONNECT); nothing of it is read meanwhile. */
    private void park() {
        c.state = Connection.State.HANDSHAKING;
        c.earned = Member.BUSY;
        c.cookie = c.services.parkForServer(server, connect.serverHost());
        c.services.upcalls().connectToServer(c.cookie, connect.certName())
                .whenComplete((reterr, err) -> c.onLoop(() -> connectAnswered(reterr, err)));
    }

    /** On the loop: the CONNECT upcall's answer; reterr 0 gives the session, anything else closes the connection. */
    private void connectAnswered(Integer reterr, Throwable err) {
        if (c.closed()) { // the client went meanwhile: a session made for it is disconnected
            if (err == null && reterr != null && reterr == 0 && c.services.established(c.cookie) != null) {
                c.services.upcalls().disconnect(c.cookie);
            }
            c.services.withdraw(c.cookie, server);
            return;
        }
        if (err != null || reterr == null || reterr != 0) {
            Throwable cause = err instanceof CompletionException ? err.getCause() : err;
            boolean ours = c.services.withdraw(c.cookie, server);
            c.services.warnings().warning("connector-connect " + connect.server(), () -> "connector: TLS to server " + connect.server() + " failed: "
                    + (err == null ? "RPCTLSCD CONNECT answered reterr " + reterr
                            : "RPCTLSCD CONNECT upcall failed: " + LogText.why(cause, "the RPCTLSCD service")));
            if (!ours && cause instanceof TimeoutException) {
                c.services.upcalls().disconnect(c.cookie); // the daemon took the socket and has not answered: no session left behind
            }
            c.events.closeAll();
            return;
        }
        EstablishedSession s = c.services.established(c.cookie);
        if (s == null || c.closed()) {
            if (s != null) {
                c.services.upcalls().disconnect(c.cookie);
            }
            c.events.closeAll();
            return;
        }
        tls.established(s);
        c.services.stats().handshake();
        c.state = Connection.State.TLS;
        c.earned = Member.TLS_SESSION;
        s.whenShutOff(() -> c.closeSoon("server certificate no longer accepted: shut off"));
        outcome.established();
    }
}
