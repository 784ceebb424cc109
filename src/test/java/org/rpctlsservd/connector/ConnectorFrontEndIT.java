package org.rpctlsservd.connector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rpctlsservd.connector.ConnectorFixture.authSys;
import static org.rpctlsservd.connector.ConnectorFixture.call;
import static org.rpctlsservd.connector.ConnectorFixture.client;
import static org.rpctlsservd.connector.ConnectorFixture.connect;
import static org.rpctlsservd.connector.ConnectorFixture.freePort;
import static org.rpctlsservd.connector.ConnectorFixture.plain;
import static org.rpctlsservd.connector.ConnectorFixture.roundTrip;
import static org.rpctlsservd.connector.ConnectorFixture.success;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.Rfc9289Server;
import org.rpctlsservd.support.TestPki;

/**
 * The connector (rpc.tlsclntd, a process) before our own front end (rpc.tlsservd, a process) before
 * a plain RPC backend: a plain client's calls cross both, TLS between them. The front end asks for a
 * verified client certificate with CN alice (--require cert, --allow-subject), so what the connector
 * presents (-m, and the per-connect certname) decides whether calls pass.
 */
class ConnectorFrontEndIT {
    /** The front end's audit line of a session: its flags (0x0b: verified client certificate). */
    static final Pattern AUDIT = Pattern.compile("handshake peer=\\S+ .*result=ok .*alpn=sunrpc.* flags=(0x[0-9a-f]+)");

    @TempDir
    static Path shared;
    static TestPki.Ca ca;
    static Path caFile;
    static Path clientCerts;
    static EchoBackend backend;
    static DaemonProcess frontEnd;
    /** The Python server without TLS, as a second plain backend: it echoes (behind the front end's --relay on this port). */
    static Rfc9289Server plainBackend;
    static int echoRelayPort;

    @TempDir
    Path tmp;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        ca = TestPki.ca("Connector CA");
        caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        TestPki.writeServer(shared.resolve("server"), PeerPki.server(ca, "front end", "localhost", "127.0.0.1"));
        clientCerts = shared.resolve("client");
        TestPki.writeServer(clientCerts, ca.leaf("alice").issue()); // cert.pem, certkey.pem: -m's default
        PeerPki.write(clientCerts, "bob", ca.leaf("bob").issue()); // bob.pem, bobkey.pem: certname=bob
        backend = new EchoBackend();
        plainBackend = Rfc9289Server.start(shared.resolve("python"), shared.resolve("server"), "--no-starttls", "plain");
        echoRelayPort = freePort();
        frontEnd = DaemonProcess.start(shared.resolve("frontend"), List.of("-Xmx256m"), List.of(), "-d", "-D",
                shared.resolve("server").toString(), "--pidfile", shared.resolve("frontend.pid").toString(), "--rpc-socket",
                shared.resolve("rpctlssd.sock").toString(), "--no-rpcbind", "--listen", "127.0.0.1:0", "--backend",
                "127.0.0.1:" + backend.port(), "-m", "-l", caFile.toString(), "--require", "cert", "--allow-subject", "O=*,CN=alice",
                "--relay", "127.0.0.1:" + echoRelayPort + ",127.0.0.1:" + plainBackend.port);
    }

    @AfterAll
    static void stop() {
        if (frontEnd != null) {
            frontEnd.close();
        }
        if (backend != null) {
            backend.close();
        }
        if (plainBackend != null) {
            plainBackend.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private DaemonProcess connector(String... args) throws Exception {
        DaemonProcess d = client(tmp.resolve("clntd"), clientCerts, caFile, args);
        toClose.add(d);
        return d;
    }

    private static String server() {
        return "localhost:" + frontEnd.frontEndPort;
    }

    /** WHOAMI through the connector: the backend's answer (flavor, uid, gid, gids) or the refusal. */
    private static RawRpc.Reply whoami(RawRpc rpc, int xid, int uid) throws Exception {
        return roundTrip(rpc, call(xid, EchoBackend.PROGRAM, EchoBackend.WHOAMI, new byte[0]).credRaw(authSys(uid)), xid);
    }

    private static List<String> frontEndFlags() {
        List<String> flags = new ArrayList<>();
        Matcher m = AUDIT.matcher(frontEnd.log());
        while (m.find()) {
            flags.add(m.group(1));
        }
        return flags;
    }

    @Test
    void anAllowedClientCertificateGetsItsCallsAnswered() throws Exception {
        int port = freePort();
        DaemonProcess d = connector(concat(new String[] {"-m"}, connect(port, server())));
        int before = backend.calls.get();
        int sessionsBefore = frontEndFlags().size();

        try (RawRpc rpc = plain(port)) {
            success(roundTrip(rpc, call(1, EchoBackend.PROGRAM, 0, new byte[0]), 1));
            ByteBuffer who = success(whoami(rpc, 2, 4242));
            assertEquals(1, who.getInt(), "AUTH_SYS reached the backend");
            assertEquals(4242, who.getInt(), "uid");
            assertEquals(4242, who.getInt(), "gid");
            for (int xid = 3; xid < 20; xid++) {
                success(whoami(rpc, xid, xid)); // a few more on the same connection: one TLS session carries them
            }
        }
        assertEquals(19, backend.calls.get() - before, "every call reached the backend");
        assertEquals(List.of("0x0b"), frontEndFlags().subList(sessionsBefore, frontEndFlags().size()),
                "one TLS session, with a verified client certificate: " + frontEnd.log());
        assertEquals(List.of("ok"), d.handshakeResults(), d.log());
    }

    @Test
    void aCertificateOutsideTheAllowListIsRefusedByTheFrontEnd() throws Exception {
        int alice = freePort();
        int bob = freePort();
        DaemonProcess d = connector(concat(new String[] {"-m"}, connect(alice, server()),
                new String[] {"--connect", "127.0.0.1:" + bob + "," + server() + ",certname=bob"}));
        int before = backend.calls.get();

        try (RawRpc rpc = plain(bob)) {
            success(roundTrip(rpc, call(1, EchoBackend.PROGRAM, 0, new byte[0]), 1)); // NULL passes any --require
            RawRpc.Reply refused = whoami(rpc, 2, 1000);
            assertEquals(1, refused.replyStat, "MSG_DENIED: " + refused);
            assertEquals(1, refused.stat, "AUTH_ERROR: " + refused);
            assertEquals(5, refused.authStat, "AUTH_TOOWEAK: " + refused);
        }
        assertEquals(1, backend.calls.get() - before, "only the NULL call reached the backend");
        Await.until(() -> frontEnd.log().contains("CN=bob"), "the front end to name the refused certificate: " + frontEnd.log());
        // the same daemon's other connector presents alice's certificate (-m's default) and is served
        try (RawRpc rpc = plain(alice)) {
            assertEquals(1, success(whoami(rpc, 3, 1000)).getInt());
        }
        assertEquals(List.of("ok", "ok"), d.handshakeResults(), d.log());
    }

    @Test
    void requireCertRefusesAConnectorWithoutAClientCertificate() throws Exception {
        int port = freePort();
        DaemonProcess d = connector(connect(port, server())); // no -m: no certificate
        int before = backend.calls.get();

        try (RawRpc rpc = plain(port)) {
            success(roundTrip(rpc, call(1, EchoBackend.PROGRAM, 0, new byte[0]), 1));
            RawRpc.Reply refused = whoami(rpc, 2, 1000);
            assertEquals(1, refused.replyStat, "MSG_DENIED: " + refused);
            assertEquals(5, refused.authStat, "AUTH_TOOWEAK: " + refused);
        }
        assertEquals(1, backend.calls.get() - before, "only the NULL call reached the backend");
        assertTrue(frontEndFlags().contains("0x01"), "a TLS session without a certificate: " + frontEnd.log());
        Await.until(() -> frontEnd.log().contains("no client certificate"), "the front end to say why: " + frontEnd.log());
        assertEquals(List.of("ok"), d.handshakeResults(), d.log());
    }

    @Test
    void recordsOfAMebibyteCrossBothWaysIntact() throws Exception {
        int port = freePort();
        connector(concat(new String[] {"-m"}, connect(port, "localhost:" + echoRelayPort)));
        byte[] big = new byte[1 << 20]; // 64 TLS records each way
        new java.util.Random(20).nextBytes(big);
        try (RawRpc rpc = plain(port)) {
            for (int xid = 1; xid <= 4; xid++) {
                big[0] = (byte) xid;
                ByteBuffer echoed = success(roundTrip(rpc, call(xid, Rfc9289Server.PROGRAM, Rfc9289Server.ECHO,
                        Rfc9289Server.opaque(big)), xid));
                assertArrayEquals(big, Rfc9289Server.opaque(echoed), "echo " + xid);
            }
        }
        assertEquals(4, plainBackend.lines("plain call proc=1").size(), plainBackend.log());
    }

    static String[] concat(String[]... parts) {
        List<String> out = new ArrayList<>();
        for (String[] p : parts) {
            out.addAll(List.of(p));
        }
        return out.toArray(new String[0]);
    }
}
