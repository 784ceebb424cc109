package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;
import org.acplt.oncrpc.XdrLong;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.rpc.AsyncRpcClient;
import org.rpctlsservd.rpc.LoopPlacement;
import org.rpctlsservd.rpc.gen.rpctlscd;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlscd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_res;

/**
 * The kernel's upcalls to a handshake daemon, made over ONC-RPC on its Unix-domain socket, many at
 * once: RPCTLSSD (the front end's, for the server side of the handshake) or RPCTLSCD (the
 * connector's, for the client side). The client lives on one of the event loops and never blocks
 * it; a service in this process serves the other end of its connection on the same loop. The two
 * programs share their procedure numbers and, but for CONNECT, their arguments (the cookie) and
 * results (reterr).
 */
final class Upcalls implements Closeable {
    /** Which daemon is called. */
    enum Program {
        RPCTLSSD(rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, "RPCTLSSD"), RPCTLSCD(rpctlscd.RPCTLSCD, rpctlscd.RPCTLSCDVERS, "RPCTLSCD");

        final int number;
        final int version;
        final String label;

        Program(int number, int version, String label) {
            this.number = number;
            this.version = version;
            this.label = label;
        }
    }

    private static final Duration SHORT = Duration.ofSeconds(15);
    private final Program program;
    private final AsyncRpcClient client;
    private final Duration connectTimeout;

    /** {@code placement}: where the service, when in this process, learns to serve this client on {@code loop} (null: it does not). */
    Upcalls(Program program, SocketAddress service, Duration connectTimeout, ScheduledExecutorService timer, IoLoop loop,
            LoopPlacement placement) throws IOException {
        this.program = program;
        this.client = new AsyncRpcClient(service, program.number, program.version, timer, loop, placement);
        this.connectTimeout = connectTimeout;
        try {
            client.connect(); // like the kernel's, the upcall channel exists before the first client
        } catch (IOException e) {
            Logger.getLogger("rpctlssd").warning((program == Program.RPCTLSSD ? "front end" : "connector") + ": no upcall connection to "
                    + LogText.address(service) + " yet: " + LogText.why(e) + "; it is made again at the first upcall");
        }
    }

    /** The service's name, for the log ("RPCTLSSD", "RPCTLSCD"). */
    String service() {
        return program.label;
    }

    /** RPCTLSSD CONNECT: the server side of the handshake on the parked client socket. */
    CompletableFuture<ConnectResult> connect(long cookie) {
        only(Program.RPCTLSSD);
        return client.call(rpctlssd.RPCTLSSD_CONNECT_2, new XdrLong(cookie), ConnectResult::new, connectTimeout);
    }

    /** RPCTLSCD CONNECT: the client side of the handshake on the parked server socket; its reterr (0: established). */
    CompletableFuture<Integer> connectToServer(long cookie, String certName) {
        only(Program.RPCTLSCD);
        rpctlscd_connect_arg arg = new rpctlscd_connect_arg();
        arg.socookie = cookie;
        arg.certname = certName;
        return client.call(rpctlscd.RPCTLSCD_CONNECT_2, arg, rpctlscd_connect_res::new, connectTimeout).thenApply(r -> r.reterr);
    }

    // HANDLERECORD and DISCONNECT: the same numbers, the cookie as argument and reterr as result in both programs

    CompletableFuture<Integer> handleRecord(long cookie) {
        return client.call(rpctlssd.RPCTLSSD_HANDLERECORD_2, new XdrLong(cookie), rpctlssd_handlerecord_res::new, SHORT)
                .thenApply(r -> r.reterr);
    }

    CompletableFuture<Integer> disconnect(long cookie) {
        return client.call(rpctlssd.RPCTLSSD_DISCONNECT_2, new XdrLong(cookie), rpctlssd_disconnect_res::new, SHORT)
                .thenApply(r -> r.reterr);
    }

    private void only(Program p) {
        if (program != p) {
            throw new IllegalStateException(p.label + " CONNECT on an upcall channel to " + program.label);
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
