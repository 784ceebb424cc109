package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import org.acplt.oncrpc.XdrLong;
import org.rpctlsservd.io.IoLoop;
import org.rpctlsservd.rpc.AsyncRpcClient;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_res;

/**
 * The kernel's upcalls to the RPCTLSSD service, made over ONC-RPC on its Unix-domain socket, many
 * at once; the client lives on one of the front end's event loops and never blocks it. The
 * service in this process serves the other end of its connection on the same loop.
 */
final class Upcalls implements Closeable {
    private final AsyncRpcClient client;
    private final Duration connectTimeout;
    private static final Duration SHORT = Duration.ofSeconds(15);

    /** {@code placement}: where the service, when in this process, learns to serve this client on {@code loop} (null: it does not). */
    Upcalls(java.net.SocketAddress service, Duration connectTimeout, ScheduledExecutorService timer, IoLoop loop,
            org.rpctlsservd.rpc.LoopPlacement placement) throws java.io.IOException {
        this.client = new AsyncRpcClient(service, rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, timer, loop, placement);
        this.connectTimeout = connectTimeout;
        try {
            client.connect(); // like the kernel's, the upcall channel exists before the first client
        } catch (java.io.IOException e) {
            java.util.logging.Logger.getLogger("rpctlssd").warning("front end: no upcall connection to " + org.rpctlsservd.guard.LogText.address(service) + " yet: "
                    + org.rpctlsservd.guard.LogText.why(e) + "; it is made again at the first upcall");
        }
    }

    CompletableFuture<ConnectResult> connect(long cookie) {
        return client.call(rpctlssd.RPCTLSSD_CONNECT_2, new XdrLong(cookie), ConnectResult::new, connectTimeout);
    }

    CompletableFuture<Integer> handleRecord(long cookie) {
        return client.call(rpctlssd.RPCTLSSD_HANDLERECORD_2, new XdrLong(cookie), rpctlssd_handlerecord_res::new, SHORT)
                .thenApply(r -> r.reterr);
    }

    CompletableFuture<Integer> disconnect(long cookie) {
        return client.call(rpctlssd.RPCTLSSD_DISCONNECT_2, new XdrLong(cookie), rpctlssd_disconnect_res::new, SHORT)
                .thenApply(r -> r.reterr);
    }

    @Override
    public void close() {
        client.close();
    }
}
