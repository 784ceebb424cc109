package org.rpctlsservd.connector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rpctlsservd.connector.ConnectorFixture.call;
import static org.rpctlsservd.connector.ConnectorFixture.client;
import static org.rpctlsservd.connector.ConnectorFixture.connect;
import static org.rpctlsservd.connector.ConnectorFixture.freePort;
import static org.rpctlsservd.connector.ConnectorFixture.plain;
import static org.rpctlsservd.connector.ConnectorFixture.roundTrip;
import static org.rpctlsservd.connector.ConnectorFixture.success;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.Rfc9289Server;
import org.rpctlsservd.support.TestPki;

/**
 * The connector against an RFC 9289 server on another TLS stack (OpenSSL, through Python's ssl:
 * src/test/python/rfc9289_server.py) that requires a client certificate: calls answered, the
 * certificate seen by the server, the server named by DNS name or by IP address, and a CALL from
 * the server (the backchannel) reaching the plain client, its reply going back.
 */
class ConnectorOpenSslIT {
    @TempDir
    static Path shared;
    static Rfc9289Server server;
    static DaemonProcess connector;
    /** The connector's listeners: to the server as "localhost", and as "127.0.0.1". */
    static int byName;
    static int byAddress;

    @BeforeAll
    static void start() throws Exception {
        TestPki.Ca ca = TestPki.ca("OpenSSL peer CA");
        Path caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        TestPki.writeServer(shared.resolve("server"), PeerPki.server(ca, "python", "localhost", "127.0.0.1"));
        TestPki.writeServer(shared.resolve("client"), ca.leaf("alice").issue());
        server = Rfc9289Server.start(shared.resolve("python"), shared.resolve("server"), "--ca", caFile.toString());
        byName = freePort();
        byAddress = freePort();
        connector = client(shared.resolve("clntd"), shared.resolve("client"), caFile, ConnectorFrontEndIT.concat(new String[] {"-m"},
                connect(byName, "localhost:" + server.port), connect(byAddress, "127.0.0.1:" + server.port)));
    }

    @AfterAll
    static void stop() {
        if (connector != null) {
            connector.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static byte[] echo(RawRpc rpc, int xid, byte[] data) throws Exception {
        ByteBuffer r = success(roundTrip(rpc, call(xid, Rfc9289Server.PROGRAM, Rfc9289Server.ECHO, Rfc9289Server.opaque(data)), xid));
        return Rfc9289Server.opaque(r);
    }

    @Test
    void callsAreAnsweredOverTls13WithAlpnAndTheClientCertificate() throws Exception {
        int tlsBefore = server.lines("tls ok").size();
        int callsBefore = server.lines("call proc=").size();
        try (RawRpc rpc = plain(byName)) {
            success(roundTrip(rpc, call(1, Rfc9289Server.PROGRAM, Rfc9289Server.NULL, new byte[0]), 1));
            assertArrayEquals("hello over OpenSSL".getBytes(StandardCharsets.UTF_8),
                    echo(rpc, 2, "hello over OpenSSL".getBytes(StandardCharsets.UTF_8)));
            byte[] big = new byte[3 << 20]; // many TLS records, several reads on either side
            new java.util.Random(9289).nextBytes(big);
            assertArrayEquals(big, echo(rpc, 3, big));
            ByteBuffer peer = success(roundTrip(rpc, call(4, Rfc9289Server.PROGRAM, Rfc9289Server.PEER, new byte[0]), 4));
            String subject = new String(Rfc9289Server.opaque(peer), StandardCharsets.UTF_8);
            assertTrue(subject.contains("commonName=alice"), "the server saw -m's certificate: " + subject);
        }
        List<String> tls = server.lines("tls ok");
        assertEquals(1, tls.size() - tlsBefore, server.log());
        assertTrue(tls.get(tls.size() - 1).matches(".*version=TLSv1\\.3 alpn=sunrpc .*client=.*alice.*"), tls.toString());
        assertEquals(List.of(), server.lines("plain call"), "nothing in plain text: " + server.log());
        assertEquals(4, server.lines("call proc=").size() - callsBefore, server.log());
    }

    @Test
    void aServerNamedByItsIpAddressIsCheckedAgainstItsIpAddressSubjectAltName() throws Exception {
        try (RawRpc rpc = plain(byAddress)) {
            assertArrayEquals(new byte[] {1, 2, 3}, echo(rpc, 1, new byte[] {1, 2, 3}));
        }
    }

    @Test
    void aCallFromTheServerReachesTheClientAndItsReplyTheServer() throws Exception {
        byte[] ping = "a CALL from the server".getBytes(StandardCharsets.UTF_8);
        byte[] pong = "the client's reply".getBytes(StandardCharsets.UTF_8);
        try (RawRpc rpc = plain(byName)) {
            success(roundTrip(rpc, call(1, Rfc9289Server.PROGRAM, Rfc9289Server.CALLBACK, Rfc9289Server.opaque(ping)), 1));
            ByteBuffer c = ByteBuffer.wrap(rpc.readRecord());
            assertEquals(Rfc9289Server.BACKCHANNEL_XID, c.getInt(), "xid");
            assertEquals(0, c.getInt(), "a CALL");
            assertEquals(2, c.getInt(), "RPC version");
            assertEquals(Rfc9289Server.BACKCHANNEL, c.getInt(), "program");
            assertEquals(1, c.getInt(), "version");
            assertEquals(1, c.getInt(), "procedure");
            c.position(c.position() + 16); // AUTH_NONE credential and verifier, empty
            assertArrayEquals(ping, Rfc9289Server.opaque(c));

            ByteBuffer reply = ByteBuffer.allocate(24 + Rfc9289Server.opaque(pong).length);
            reply.putInt(Rfc9289Server.BACKCHANNEL_XID).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).put(Rfc9289Server.opaque(pong));
            rpc.send(reply.array());
            ByteBuffer got = success(roundTrip(rpc, call(2, Rfc9289Server.PROGRAM, Rfc9289Server.CALLBACK_REPLY, new byte[0]), 2));
            assertArrayEquals(pong, Rfc9289Server.opaque(got), "the server got the client's reply: " + server.log());
        }
    }
}
