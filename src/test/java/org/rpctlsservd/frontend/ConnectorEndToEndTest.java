package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;

/**
 * A plain client -> the connector (rpc.tlsclntd, in this JVM, its real client engine) -> our front
 * end (rpc.tlsservd, in this JVM) -> an echo backend: the whole path in seconds, without the
 * packaged jar the ITs need, and what they cannot see from outside: one session each side, the
 * teardown's DISCONNECT, and every byte of the memory budget given back on both sides.
 */
class ConnectorEndToEndTest {
    private static final TestPki.Ca CA = TestPki.ca("E2E CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();

    @TempDir
    Path tmp;

    @Test
    void aPlainClientReachesTheBackendOverTlsAndTheTeardownGivesEverythingBack() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        Files.createDirectories(tmp.resolve("s"));
        try (EchoBackend backend = new EchoBackend();
                LogCapture log = LogCapture.daemon();
                FrontEndHarness server = new FrontEndHarness(tmp.resolve("s"), SERVER, backend.port())) {
            // -l: the server's certificate must verify and match "localhost", the name --connect gives
            Config c = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "client.example.org", h -> null).parse(new String[] {"--no-rpcbind",
                    "--no-pidfile", "--rpc-socket", tmp.resolve("c.sock").toString(), "-l", caFile.toString(), "--io-threads", "1",
                    "--connect", "127.0.0.1:0,localhost:" + server.port});
            try (Daemon client = Daemon.startClient(c)) {
                FrontEnd connector = client.frontEnd();
                FrontEnd frontEnd = server.daemon.frontEnd();
                try (RawRpc rpc = new RawRpc(connector.addresses().get(0).getPort())) {
                    rpc.socket().setSoTimeout(30_000);
                    for (int xid = 1; xid <= 3; xid++) {
                        rpc.send(FrontEndHarness.whoami(xid, FrontEndHarness.authSys(1000, 1000)).bytes());
                        RawRpc.Reply r = rpc.read();
                        assertEquals(xid, r.xid, "the reply to the call sent");
                        assertEquals(0, r.stat, r.toString());
                    }
                    assertEquals(3, backend.calls.get(), "each call relayed once");
                    assertEquals(1, connector.stats().handshakes(), "one TLS session, the connector's side");
                    assertEquals(1, frontEnd.stats().handshakes(), "one TLS session, the front end's side");
                    assertTrue(connector.budget().used() > 0, "the live connection is charged to the connector's budget");
                    if ("root".equals(System.getProperty("user.name"))) {
                        String live = org.rpctlsservd.support.Commands.run(10, "ss", "-Htan", "state", "established",
                                "( dport = :" + server.port + " and sport < :1024 )").output();
                        assertFalse(live.isBlank(), "as root the connector's server connection comes from a reserved port");
                    }
                }
                // the client goes: the connector's teardown makes the DISCONNECT upcall, and the front end sees its session end
                Await.until(() -> connector.connectionCount() == 0, "the connector's connection gone", 10);
                assertEquals(1, connector.stats().disconnects(), "the connector's DISCONNECT upcall");
                Await.until(() -> frontEnd.connectionCount() == 0, "the front end's connection gone", 10);
                Await.until(() -> connector.budget().used() == 0, "the connector's budget back to 0 (" + connector.budget().used() + ")", 10);
                Await.until(() -> frontEnd.budget().used() == 0, "the front end's budget back to 0 (" + frontEnd.budget().used() + ")", 10);
                assertEquals(ConnectPermits.LIMIT, connector.permits().available(), "no connect permit left held");
                if ("root".equals(System.getProperty("user.name"))) {
                    // as root the server connection came from a reserved port: closed with a reset, none is left in
                    // TIME_WAIT toward the server (a few hundred ports would run out under churn). Only reserved source
                    // ports: an earlier test's connection to a server that had this port number may still wait there.
                    String waiting = org.rpctlsservd.support.Commands.run(10, "ss", "-Htan", "state", "time-wait",
                            "( dport = :" + server.port + " and sport < :1024 )").output();
                    assertEquals("", waiting.strip(), "the connector's reserved port in TIME_WAIT");
                }
            }
            // the client handshake's audit: our own engines both ends, so the hybrid post-quantum group is the one agreed
            String audit = "handshake server=127.0.0.1:" + server.port + " ";
            assertTrue(log.lines().stream().anyMatch(l -> l.startsWith(audit) && l.contains("result=ok version=TLS1.3")
                    && l.contains("group=X25519MLKEM768 alpn=sunrpc") && l.contains("name=localhost")), log.lines().toString());
        }
    }
}
