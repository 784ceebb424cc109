package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.acplt.oncrpc.XdrVoid;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestProgram;

/** The stream server's event loop under a caller that never reads its replies. */
class StreamRpcServerTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final AtomicInteger served = new AtomicInteger();
    private RpcServer server;

    @BeforeEach
    void start() throws IOException {
        RpcProgram nulls = new TestProgram(0x20000077, call -> {
            served.incrementAndGet();
            call.info().retrieveCall(XdrVoid.XDR_VOID);
            call.replySuccess(XdrVoid.XDR_VOID);
        });
        server = RpcServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                new RpcDispatcher(RpcDispatcher.NONE_OR_SYS).add(nulls),
                new ServerLimits(8, 64 * 1024, Duration.ofMinutes(10), Duration.ofSeconds(1)), timer);
    }

    @AfterEach
    void stop() {
        server.close();
        timer.shutdownNow();
    }

    @Test
    void aCallerThatNeverReadsStopsBeingReadIsClosedAfterTheWriteTimeoutAndBlocksNobody() throws Exception {
        byte[] one = RawRpc.call().xid(1).prog(0x20000077).vers(1).proc(0).bytes();
        byte[] batch = new byte[1000 * (4 + one.length)];
        for (int i = 0; i < 1000; i++) {
            java.nio.ByteBuffer.wrap(batch, i * (4 + one.length), 4 + one.length).putInt(0x80000000 | one.length).put(one);
        }
        try (Socket hog = new Socket()) {
            hog.setReceiveBufferSize(4096);
            hog.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            hog.setSoTimeout(100);
            OutputStream out = hog.getOutputStream();
            Thread writer = new Thread(() -> {
                try {
                    while (true) {
                        out.write(batch); // blocks once the server stops reading it
                    }
                } catch (IOException closed) {
                    // the server closed it
                }
            });
            writer.setDaemon(true);
            writer.start();
            // meanwhile another caller is served by the same loop
            try (RawRpc good = new RawRpc(server.port())) {
                good.send(RawRpc.call().xid(42).prog(0x20000077).vers(1).proc(0).bytes());
                assertEquals(42, good.read().xid);
            }
            Await.until(() -> !writer.isAlive(), "the server to close the caller that takes no replies", 20);
            // one read's worth of calls (16 KiB of them) may be answered past the mark before reading stops
            long bound = StreamRpcServer.PAUSE_READING + 16 * 1024 / 44 * (4 + 24);
            assertTrue(server.tcp().peakQueued() <= bound, "replies waiting for it stayed bounded: " + server.tcp().peakQueued());
            Await.until(() -> server.tcp().connectionCount() == 0, "the connection gone");
        }
    }
}
