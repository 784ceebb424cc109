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
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.Rfc9289Server;
import org.rpctlsservd.support.TestPki;

/**
 * A server that does not answer the STARTTLS probe with the "STARTTLS" verifier (RFC 9289 section
 * 4.1): one that answers AUTH_ERROR (it knows no AUTH_TLS) and one that accepts the NULL call with
 * an empty verifier. By default the connector closes the client with a warning and relays nothing
 * in plain text; with --allow-plain it relays in plain text.
 */
class ConnectorStartTlsIT {
    @TempDir
    static Path shared;
    static Path caFile;

    @TempDir
    Path tmp;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void pki() throws Exception {
        TestPki.Ca ca = TestPki.ca("STARTTLS CA");
        caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        TestPki.writeServer(shared.resolve("server"), PeerPki.server(ca, "python", "localhost", "127.0.0.1"));
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private Rfc9289Server server(String how) throws Exception {
        Rfc9289Server s = Rfc9289Server.start(tmp.resolve("python-" + how), shared.resolve("server"), "--no-starttls", how);
        toClose.add(s);
        return s;
    }

    private DaemonProcess connector(String... args) throws Exception {
        DaemonProcess d = client(tmp.resolve("clntd"), tmp.resolve("certs"), caFile, args);
        toClose.add(d);
        return d;
    }

    /** autherror: MSG_DENIED, AUTH_ERROR; plain: MSG_ACCEPTED, SUCCESS, an empty verifier. */
    @ParameterizedTest
    @ValueSource(strings = {"autherror", "plain"})
    void withoutStartTlsTheClientIsClosedWithAWarningAndNothingGoesInPlainText(String how) throws Exception {
        Rfc9289Server s = server(how);
        int listen = freePort();
        // a daemon of its own: its warnings are rate-limited by kind, so a second such server in the same
        // daemon within 10 s would be counted, not named
        DaemonProcess d = connector(connect(listen, "localhost:" + s.port));

        assertClosedUnanswered(listen, "no STARTTLS from " + s.port);
        Pattern warning = Pattern.compile("WARNING connector: server \\S*:" + s.port + " did not answer STARTTLS");
        Await.until(() -> warning.matcher(d.log()).find(), "the warning: " + d.log(), 30);
        assertEquals(1, s.lines("probe answered").size(), "the probe was sent: " + s.log());
        assertEquals(List.of(), s.lines("plain call"), "nothing relayed in plain text: " + s.log());
        assertTrue(d.process.isAlive(), d.log());
    }

    @Test
    void allowPlainRelaysInPlainText() throws Exception {
        Rfc9289Server autherror = server("autherror");
        Rfc9289Server accepting = server("plain");
        int toAuthError = freePort();
        int toAccepting = freePort();
        connector(ConnectorFrontEndIT.concat(new String[] {"--allow-plain"}, connect(toAuthError, "localhost:" + autherror.port),
                connect(toAccepting, "localhost:" + accepting.port)));

        for (Rfc9289Server s : List.of(autherror, accepting)) {
            try (RawRpc rpc = plain(s == autherror ? toAuthError : toAccepting)) {
                byte[] r = Rfc9289Server.opaque(success(roundTrip(rpc, call(5, Rfc9289Server.PROGRAM, Rfc9289Server.ECHO,
                        Rfc9289Server.opaque(new byte[] {9, 2, 8, 9})), 5)));
                assertArrayEquals(new byte[] {9, 2, 8, 9}, r);
            }
            assertEquals(1, s.lines("plain call proc=1").size(), s.log());
        }
    }
}
