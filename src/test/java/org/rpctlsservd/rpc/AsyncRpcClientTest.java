package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.acplt.oncrpc.XdrInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.TestProgram;

/** The upcall client on its event loop: many calls in flight, deadlines, a lost connection, connecting again. */
class AsyncRpcClientTest {
    private static final int PROGRAM = 0x20000055;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        timer.shutdownNow();
    }

    /** A server whose procedure 1 echoes its int argument, and procedure 2 never answers. */
    private RpcServer server() throws IOException {
        RpcProgram echo = new TestProgram(PROGRAM, call -> {
            XdrInt v = new XdrInt();
            call.info().retrieveCall(v);
            if (call.header().procedure == 1) {
                call.replySuccess(v);
            } else {
                call.defer(); // an answer owed and never given
            }
        });
        RpcServer s = RpcServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(echo), ServerLimits.DEFAULT, timer);
        closing.add(s::close);
        return s;
    }

    private AsyncRpcClient client(int port) throws IOException {
        AsyncRpcClient c = new AsyncRpcClient(new InetSocketAddress("127.0.0.1", port), PROGRAM, 1, timer);
        closing.add(0, c::close);
        return c;
    }

    private static CompletableFuture<XdrInt> echo(AsyncRpcClient c, int v, int proc, Duration timeout) {
        return c.call(proc, new XdrInt(v), XdrInt::new, timeout);
    }

    @Test
    void aCallerThatAnnouncedItsLoopIsServedOnItAndAnyOtherOnTheServicesOwn(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        List<String> servedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
        RpcProgram where = new TestProgram(PROGRAM, call -> {
            XdrInt v = new XdrInt();
            call.info().retrieveCall(v);
            servedOn.add(Thread.currentThread().getName());
            call.replySuccess(v);
        });
        java.nio.file.Path sock = dir.resolve("svc.sock");
        LoopPlacement placement = new LoopPlacement();
        StreamRpcServer local = RpcServer.startLocal(sock, new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(where), ServerLimits.DEFAULT,
                timer, placement);
        closing.add(local::close);
        org.rpctlsservd.io.IoLoop loop = new org.rpctlsservd.io.IoLoop("caller-loop");
        closing.add(loop::close);
        java.net.UnixDomainSocketAddress address = java.net.UnixDomainSocketAddress.of(sock);
        AsyncRpcClient announced = new AsyncRpcClient(address, PROGRAM, 1, timer, loop, placement);
        closing.add(0, announced::close);
        AsyncRpcClient other = new AsyncRpcClient(address, PROGRAM, 1, timer, loop);
        closing.add(0, other::close);

        assertEquals(7, echo(announced, 7, 1, Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS).intValue());
        assertEquals(8, echo(other, 8, 1, Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS).intValue());
        assertEquals(List.of("caller-loop", "rpc-local-svc.sock"), servedOn);
        assertTrue(java.nio.file.Files.notExists(dir.resolve("svc.sock.caller-loop")), "the name's file is gone once connected");
        assertEquals(List.of("svc.sock"), java.nio.file.Files.list(dir).map(f -> f.getFileName().toString()).toList());
    }

    @Test
    void manyCallsInFlightGetTheirOwnReplies() throws Exception {
        AsyncRpcClient c = client(server().port());
        List<CompletableFuture<XdrInt>> calls = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            calls.add(echo(c, i, 1, Duration.ofSeconds(10)));
        }
        for (int i = 0; i < calls.size(); i++) {
            assertEquals(i, calls.get(i).get(10, TimeUnit.SECONDS).intValue());
        }
    }

    @Test
    void aCallWithoutAReplyFailsAtItsDeadlineAndOthersGoOn() throws Exception {
        AsyncRpcClient c = client(server().port());
        CompletableFuture<XdrInt> never = echo(c, 1, 2, Duration.ofMillis(200));
        assertEquals(7, echo(c, 7, 1, Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS).intValue());
        ExecutionException e = assertThrows(ExecutionException.class, () -> never.get(10, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
    }

    @Test
    void callsInFlightFailAtOnceWhenTheConnectionIsLostAndTheNextCallConnectsAgain() throws Exception {
        try (ServerSocket raw = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            AsyncRpcClient c = client(raw.getLocalPort());
            CompletableFuture<XdrInt> inFlight = echo(c, 1, 1, Duration.ofSeconds(30));
            try (Socket first = raw.accept()) {
                first.getInputStream().read(); // the call arrived; the "service" goes away without answering
            }
            ExecutionException e = assertThrows(ExecutionException.class, () -> inFlight.get(10, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, e.getCause());
            CompletableFuture<XdrInt> next = echo(c, 2, 1, Duration.ofSeconds(30));
            try (Socket second = raw.accept()) {
                assertTrue(second.getInputStream().read() >= 0, "the next call came on a new connection");
            }
            assertThrows(ExecutionException.class, () -> next.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aServiceThatIsNotThereFailsTheCallNotTheCaller() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        AsyncRpcClient c = client(port);
        ExecutionException e = assertThrows(ExecutionException.class, () -> echo(c, 1, 1, Duration.ofSeconds(10))
                .get(10, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, e.getCause());
    }
}
