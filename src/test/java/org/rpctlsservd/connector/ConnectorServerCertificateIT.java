package org.rpctlsservd.connector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rpctlsservd.connector.ConnectorFixture.assertClosedUnanswered;
import static org.rpctlsservd.connector.ConnectorFixture.call;
import static org.rpctlsservd.connector.ConnectorFixture.client;
import static org.rpctlsservd.connector.ConnectorFixture.connect;
import static org.rpctlsservd.connector.ConnectorFixture.freePort;
import static org.rpctlsservd.connector.ConnectorFixture.plain;
import static org.rpctlsservd.connector.ConnectorFixture.roundTrip;
import static org.rpctlsservd.connector.ConnectorFixture.success;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.Rfc9289Server;
import org.rpctlsservd.support.TestPki;

/**
 * With -l, the server's certificate must verify and match the name the connector was given (RFC
 * 9289 section 5.2.1). Four Python (OpenSSL) servers, one daemon with a connector to each: a good
 * certificate, one for another name, an expired one, one from another CA. The bad ones: the client's
 * connection is closed, nothing reaches the server in TLS or plain text, and the daemon's log says
 * which check failed.
 */
class ConnectorServerCertificateIT {
    @TempDir
    static Path shared;
    static final List<Rfc9289Server> servers = new ArrayList<>();
    static Rfc9289Server good;
    static Rfc9289Server wrongName;
    static Rfc9289Server expired;
    static Rfc9289Server otherCa;
    static DaemonProcess connector;
    static int toGood;
    static int toWrongName;
    static int toExpired;
    static int toOtherCa;

    @BeforeAll
    static void start() throws Exception {
        TestPki.Ca ca = TestPki.ca("Trusted CA");
        TestPki.Ca stranger = TestPki.ca("Another CA");
        Path caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        good = python("good", PeerPki.server(ca, "good", "localhost", "127.0.0.1"));
        wrongName = python("wrong-name", PeerPki.server(ca, "elsewhere", "elsewhere.example.org", "192.0.2.7"));
        expired = python("expired", PeerPki.expired(ca, "expired", "localhost", "127.0.0.1"));
        otherCa = python("other-ca", PeerPki.server(stranger, "stranger", "localhost", "127.0.0.1"));
        toGood = freePort();
        toWrongName = freePort();
        toExpired = freePort();
        toOtherCa = freePort();
        connector = client(shared.resolve("clntd"), shared.resolve("no-client-cert"), caFile, ConnectorFrontEndIT.concat(
                connect(toGood, "localhost:" + good.port), connect(toWrongName, "localhost:" + wrongName.port),
                connect(toExpired, "localhost:" + expired.port), connect(toOtherCa, "localhost:" + otherCa.port)));
    }

    private static Rfc9289Server python(String name, TestPki.Issued cert) throws Exception {
        TestPki.writeServer(shared.resolve(name), cert);
        Rfc9289Server s = Rfc9289Server.start(shared.resolve(name + "-log"), shared.resolve(name));
        servers.add(s);
        return s;
    }

    @AfterAll
    static void stop() {
        if (connector != null) {
            connector.close();
        }
        servers.forEach(Rfc9289Server::close);
    }

    /** The reasons of the daemon's failed handshakes with the server on {@code port}. */
    private static List<String> reasons(int port) {
        List<String> out = new ArrayList<>();
        Matcher m = DaemonProcess.CLIENT_HANDSHAKE.matcher(connector.log());
        while (m.find()) {
            if (m.group(1).endsWith(":" + port) && !"ok".equals(m.group(2))) {
                out.add(m.group(3));
            }
        }
        return out;
    }

    private static void assertRefused(int listen, Rfc9289Server server, String reason) throws Exception {
        assertClosedUnanswered(listen, reason);
        Await.until(() -> !reasons(server.port).isEmpty(), "a failed handshake in the log: " + connector.log(), 30);
        String why = reasons(server.port).get(0);
        assertTrue(why.contains(reason), "the reason says " + reason + ": " + why);
        assertEquals(List.of(), server.lines("call proc="), "no call reached the server in TLS: " + server.log());
        assertEquals(List.of(), server.lines("plain call"), "no call reached it in plain text: " + server.log());
        assertEquals(List.of(), server.lines("tls ok"), "no TLS session: " + server.log());
        assertTrue(connector.process.isAlive(), connector.log());
    }

    @Test
    void aCertificateForAnotherNameIsRefused() throws Exception {
        assertRefused(toWrongName, wrongName, "does not match localhost");
    }

    @Test
    void anExpiredCertificateIsRefused() throws Exception {
        assertRefused(toExpired, expired, "expired");
    }

    @Test
    void aCertificateFromAnotherCaIsRefused() throws Exception {
        assertRefused(toOtherCa, otherCa, "not verified");
    }

    @Test
    void theGoodServerOfTheSameDaemonIsServed() throws Exception {
        try (RawRpc rpc = plain(toGood)) {
            byte[] r = Rfc9289Server.opaque(success(roundTrip(rpc, call(1, Rfc9289Server.PROGRAM, Rfc9289Server.ECHO,
                    Rfc9289Server.opaque(new byte[] {4, 2})), 1)));
            assertArrayEquals(new byte[] {4, 2}, r);
        }
        assertEquals(1, good.lines("tls ok").size(), good.log());
    }
}
