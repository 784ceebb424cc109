package org.rpctlsservd.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcProtocols;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.rpc.gen.rpctlssdClient;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_handlerecord_arg;
import org.rpctlsservd.support.ScriptedHandshaker;
import org.rpctlsservd.support.TestDaemons;

/** The generated Remote Tea client against the service, over TCP and UDP, for all four procedures. */
class RpctlssdServiceTest {
    private final ScriptedHandshaker handshaker = new ScriptedHandshaker();
    private final java.util.List<SocketChannel> clientEnds = new java.util.ArrayList<>();
    private Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(2, 16, handshaker);
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        for (SocketChannel c : clientEnds) {
            c.close();
        }
    }

    /** The generated client, closable with try-with-resources. */
    private static final class Client extends rpctlssdClient implements AutoCloseable {
        Client(int port, int protocol) throws Exception {
            super(InetAddress.getLoopbackAddress(), port, protocol);
            getClient().setTimeout(10_000);
        }
    }

    private Client client(int protocol) throws Exception {
        return new Client(daemon.port(), protocol);
    }

    /** Parks the server end of a fresh loopback pair; the client end is closed after the test. */
    private long parkPair() throws Exception {
        SocketChannel[] pair = TestDaemons.pair();
        clientEnds.add(pair[1]);
        return daemon.handoff().park(pair[0]);
    }

    private static rpctlssd_connect_arg connectArg(long cookie) {
        rpctlssd_connect_arg a = new rpctlssd_connect_arg();
        a.socookie = cookie;
        return a;
    }

    private static rpctlssd_handlerecord_arg handleArg(long cookie) {
        rpctlssd_handlerecord_arg a = new rpctlssd_handlerecord_arg();
        a.socookie = cookie;
        return a;
    }

    private static rpctlssd_disconnect_arg disconnectArg(long cookie) {
        rpctlssd_disconnect_arg a = new rpctlssd_disconnect_arg();
        a.socookie = cookie;
        return a;
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {OncRpcProtocols.ONCRPC_TCP, OncRpcProtocols.ONCRPC_UDP})
    void allFourProcedures(int protocol) throws Exception {
        try (Client c = client(protocol)) {
            c.RPCTLSSD_NULL_2();

            SocketChannel[] pair = TestDaemons.pair();
            long cookie = daemon.handoff().park(pair[0]);
            handshaker.flags(cookie, HandshakeOutcome.FLAGS_HANDSHAKE | HandshakeOutcome.FLAGS_VERIFIED
                    | HandshakeOutcome.FLAGS_CERTUSER | HandshakeOutcome.FLAGS_GOTCERT);
            handshaker.uid = 0xfffffff0;
            handshaker.gids = new int[] {1001, (int) 4000000000L, 27};
            rpctlssd_connect_res res = c.RPCTLSSD_CONNECT_2(connectArg(cookie));
            assertEquals(0x2B, res.flags);
            assertEquals(0xfffffff0, res.uid);
            assertArrayEquals(new int[] {1001, (int) 4000000000L, 27}, res.gid);
            assertNotNull(daemon.sessions().get(cookie), "the session is in the table once CONNECT has answered");
            assertEquals(0, daemon.handoff().size(), "the socket was claimed");

            assertEquals(0, c.RPCTLSSD_HANDLERECORD_2(handleArg(cookie)).reterr);
            assertEquals(1, handshaker.sessions.get(cookie).handled.get());

            assertEquals(0, c.RPCTLSSD_DISCONNECT_2(disconnectArg(cookie)).reterr);
            assertNull(daemon.sessions().get(cookie));
            assertFalse(handshaker.sessions.get(cookie).isOpen());
            // the client end sees the connection end
            pair[1].configureBlocking(true);
            assertEquals(-1, pair[1].read(ByteBuffer.allocate(1)));
            pair[1].close();

            assertEquals(1, c.RPCTLSSD_DISCONNECT_2(disconnectArg(cookie)).reterr, "second DISCONNECT: NOCLOSE");
            assertEquals(2, c.RPCTLSSD_HANDLERECORD_2(handleArg(cookie)).reterr, "HANDLERECORD after DISCONNECT: NOSSL");
        }
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {OncRpcProtocols.ONCRPC_TCP, OncRpcProtocols.ONCRPC_UDP})
    void uidAndGidsOnlyWithCertUser(int protocol) throws Exception {
        try (Client c = client(protocol)) {
            long cookie = parkPair();
            handshaker.flags(cookie, 0x0B);
            rpctlssd_connect_res res = c.RPCTLSSD_CONNECT_2(connectArg(cookie));
            assertEquals(0x0B, res.flags);
            assertEquals(0, res.uid);
            assertEquals(0, res.gid.length);
        }
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {OncRpcProtocols.ONCRPC_TCP, OncRpcProtocols.ONCRPC_UDP})
    void unknownCookiesAreAnsweredAtOnce(int protocol) throws Exception {
        try (Client c = client(protocol)) {
            long t0 = System.nanoTime();
            OncRpcException e = assertThrows(OncRpcException.class, () -> c.RPCTLSSD_CONNECT_2(connectArg(0x1234_5678_9abc_def0L)));
            assertEquals(OncRpcException.RPC_SYSTEMERROR, e.getReason());
            assertTrue(Duration.ofNanos(System.nanoTime() - t0).toMillis() < 5000, "answered, not timed out");
            assertEquals(0, handshaker.started.get(), "no handshake without a socket");
            assertEquals(2, c.RPCTLSSD_HANDLERECORD_2(handleArg(-1L)).reterr);
            assertEquals(1, c.RPCTLSSD_DISCONNECT_2(disconnectArg(-1L)).reterr);
        }
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {OncRpcProtocols.ONCRPC_TCP, OncRpcProtocols.ONCRPC_UDP})
    void aCookieIsClaimedOnce(int protocol) throws Exception {
        try (Client c = client(protocol)) {
            long cookie = parkPair();
            assertEquals(1, c.RPCTLSSD_CONNECT_2(connectArg(cookie)).flags);
            OncRpcException e = assertThrows(OncRpcException.class, () -> c.RPCTLSSD_CONNECT_2(connectArg(cookie)));
            assertEquals(OncRpcException.RPC_SYSTEMERROR, e.getReason());
        }
    }

    @ParameterizedTest(name = "protocol {0}")
    @ValueSource(ints = {OncRpcProtocols.ONCRPC_TCP, OncRpcProtocols.ONCRPC_UDP})
    void aFailedHandshakeIsAnsweredAndClosesTheSocket(int protocol) throws Exception {
        try (Client c = client(protocol)) {
            SocketChannel[] pair = TestDaemons.pair();
            clientEnds.add(pair[1]);
            long cookie = daemon.handoff().park(pair[0]);
            handshaker.fail(cookie);
            OncRpcException e = assertThrows(OncRpcException.class, () -> c.RPCTLSSD_CONNECT_2(connectArg(cookie)));
            assertEquals(OncRpcException.RPC_SYSTEMERROR, e.getReason());
            assertFalse(pair[0].isOpen(), "the daemon closed the socket it took");
            assertNull(daemon.sessions().get(cookie), "no session for a failed handshake");
        }
    }
}
