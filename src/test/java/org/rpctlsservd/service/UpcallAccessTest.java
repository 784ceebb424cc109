package org.rpctlsservd.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.acplt.oncrpc.XdrLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.rpc.AsyncRpcClient;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;
import org.rpctlsservd.rpc.gen.rpctlssd_disconnect_res;
import org.rpctlsservd.sessions.Cookies;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.ScriptedHandshaker;
import org.rpctlsservd.support.TestDaemons;

/**
 * Only root drives the upcalls: the Unix-domain socket admits root and the daemon's user, TCP and
 * UDP answer CONNECT, HANDLERECORD and DISCONNECT only from reserved ports, NULL stays open, and
 * no log line at the default level shows a cookie.
 */
class UpcallAccessTest {
    private static final int AUTH_ERROR = 1;
    private static final int AUTH_TOOWEAK = 5;

    private final ScriptedHandshaker handshaker = new ScriptedHandshaker();
    private final List<SocketChannel> ends = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private Config config;
    private Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        Config c = TestDaemons.config(1, 8, false, false);
        config = c.with(Opt.RPC_MAX_CONNECTIONS, 2);
        daemon = Daemon.start(config, handshaker);
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        for (SocketChannel e : ends) {
            e.close();
        }
        timer.shutdownNow();
    }

    private long parkPair() throws Exception {
        SocketChannel[] pair = TestDaemons.pair();
        ends.add(pair[0]);
        ends.add(pair[1]);
        return daemon.handoff().park(pair[0]);
    }

    private static byte[] call(int xid, int proc, long cookie) {
        return RawRpc.call().xid(xid).prog(RawRpc.RPCTLSSD).vers(2).proc(proc).args(RawRpc.hyper(cookie)).bytes();
    }

    private static void assertTooWeak(RawRpc.Reply r) {
        assertEquals(1, r.replyStat, "MSG_DENIED: " + r);
        assertEquals(AUTH_ERROR, r.stat, r.toString());
        assertEquals(AUTH_TOOWEAK, r.authStat, r.toString());
    }

    private AsyncRpcClient local() throws java.io.IOException {
        return new AsyncRpcClient(UnixDomainSocketAddress.of(config.rpcSocket()), rpctlssd.RPCTLSSD, rpctlssd.RPCTLSSDVERS, timer);
    }

    @Test
    void unprivilegedTcpAndUdpCallersGetTooWeakButNullStaysOpen() throws Exception {
        long cookie = parkPair();
        handshaker.flags(cookie, HandshakeOutcome.FLAGS_HANDSHAKE);
        try (AsyncRpcClient root = local()) {
            rpctlssd_connect_res res = root.call(rpctlssd.RPCTLSSD_CONNECT_2, new XdrLong(cookie), rpctlssd_connect_res::new,
                    Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS);
            assertEquals(HandshakeOutcome.FLAGS_HANDSHAKE, res.flags, "CONNECT over the Unix-domain socket");
        }
        try (RawRpc user = new RawRpc(daemon.port())) {
            user.send(RawRpc.call().xid(1).prog(RawRpc.RPCTLSSD).vers(2).proc(0).bytes());
            RawRpc.Reply nullReply = user.read();
            assertEquals(0, nullReply.replyStat);
            assertEquals(0, nullReply.stat, "NULL is open to everyone");
            for (int proc = 1; proc <= 3; proc++) {
                user.send(call(10 + proc, proc, cookie));
                assertTooWeak(user.read());
            }
        }
        try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udp.setSoTimeout(10_000);
            byte[] q = call(21, 3, cookie);
            udp.send(new DatagramPacket(q, q.length, new InetSocketAddress(InetAddress.getLoopbackAddress(), daemon.port())));
            DatagramPacket p = new DatagramPacket(new byte[512], 512);
            udp.receive(p);
            assertTooWeak(RawRpc.Reply.parse(Arrays.copyOf(p.getData(), p.getLength())));
        }
        assertNotNull(daemon.sessions().get(cookie), "another user's DISCONNECT ended nothing");
        try (RawRpc rootPort = new RawRpc(RawRpc.connectFromReservedPort(daemon.port()))) {
            rootPort.send(call(31, 3, cookie));
            RawRpc.Reply r = rootPort.read();
            assertEquals(0, r.replyStat, r.toString());
            assertEquals(0, r.stat, r.toString());
            assertEquals(0, r.result.getInt(), "DISCONNECT from a reserved port: done");
        }
        assertEquals(null, daemon.sessions().get(cookie));
    }

    @Test
    void theUnixSocketIsForRootAndTheDaemonsUserOnly() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(config.rpcSocket())));
        String script = "import socket,struct,sys\n"
                + "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\n"
                + "try:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print('refused', e.errno); sys.exit(0)\n"
                + "call=struct.pack('>IIIIIIIIII',1,0,2," + rpctlssd.RPCTLSSD + ",2,0,0,0,0,0)\n"
                + "s.settimeout(10)\n"
                + "try:\n s.sendall(struct.pack('>I',0x80000000|len(call))+call)\n d=s.recv(100)\n"
                + "except OSError:\n d=b''\n" // closed already when the call went (EPIPE), or after
                + "print('closed' if not d else 'answered')\n";
        Commands.Result denied = Commands.run(30, "runuser", "-u", "nobody", "--", "python3", "-c", script, config.rpcSocket().toString());
        assertTrue(denied.output().startsWith("refused 13"), "mode 0600 keeps other users out: " + denied.output());
        // Even with the file (and its folder) opened up, SO_PEERCRED keeps them out.
        Files.setPosixFilePermissions(config.rpcSocket().getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(config.rpcSocket(), PosixFilePermissions.fromString("rw-rw-rw-"));
        try (LogCapture log = LogCapture.daemon()) {
            Commands.Result closed = Commands.run(30, "runuser", "-u", "nobody", "--", "python3", "-c", script, config.rpcSocket().toString());
            assertEquals("closed\n", closed.output());
            assertTrue(log.has("refused a connection on local-"), log.lines().toString());
            assertTrue(log.has("user nobody is neither root nor"), log.lines().toString());
        }
        Commands.Result rootCall = Commands.run(30, "python3", "-c", script, config.rpcSocket().toString());
        assertEquals("answered\n", rootCall.output());
    }

    @Test
    void callersHoldingEveryTcpSlotDoNotBlockTheUpcalls() throws Exception {
        List<Socket> held = new ArrayList<>();
        try (AsyncRpcClient root = local()) {
            for (int i = 0; i < 4; i++) {
                held.add(RawRpc.connect(daemon.port())); // the TCP listener takes 2 (--rpc-max-connections 2)
            }
            org.rpctlsservd.support.Await.until(() -> daemon.server().tcp().connectionCount() == 2, "both TCP slots held");
            rpctlssd_disconnect_res r = root.call(rpctlssd.RPCTLSSD_DISCONNECT_2, new XdrLong(0x1234), rpctlssd_disconnect_res::new,
                    Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS);
            assertEquals(1, r.reterr, "answered over the Unix-domain socket: no such connection");
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    @Test
    void aNonLoopbackRpcAddressIsWarnedAbout() throws Exception {
        Config c = TestDaemons.config(1, 8, false, false);
        Config wide = c.with(Opt.RPC_ADDRESS, new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0));
        try (LogCapture log = LogCapture.daemon(); Daemon d = Daemon.start(wide, handshaker)) {
            assertTrue(log.has("--rpc-address 0.0.0.0 is not a loopback address"), log.lines().toString());
        }
    }

    @Test
    void noCookieInAnyLineAtTheDefaultLevel() throws Exception {
        long cookie = parkPair();
        handshaker.flags(cookie, HandshakeOutcome.FLAGS_HANDSHAKE);
        try (LogCapture log = LogCapture.daemon(); AsyncRpcClient root = local()) {
            root.call(rpctlssd.RPCTLSSD_CONNECT_2, new XdrLong(cookie), rpctlssd_connect_res::new, Duration.ofSeconds(10))
                    .get(10, TimeUnit.SECONDS);
            root.call(rpctlssd.RPCTLSSD_DISCONNECT_2, new XdrLong(cookie), rpctlssd_disconnect_res::new, Duration.ofSeconds(10))
                    .get(10, TimeUnit.SECONDS);
            String hex = Long.toUnsignedString(cookie, 16);
            assertTrue(log.lines().stream().anyMatch(l -> l.contains(hex)), "-v shows the whole cookie: " + log.lines());
            for (String line : log.alwaysLines()) {
                assertFalse(line.contains(hex), line);
                assertFalse(line.contains(Long.toUnsignedString(cookie)), line);
            }
            assertTrue(Cookies.tag(cookie).matches("conn=[0-9a-f]{8}"));
        }
    }
}
