package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.acplt.oncrpc.OncRpcProtocols;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.rpcbind.PortmapClient;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;

/**
 * One daemon, several relays (--relay): each listener's clients reach its own backend, and the
 * programs a relay names are registered with the system's rpcbind at its TLS port, but for an
 * entry someone else holds, which is left alone; at exit only our entries go.
 */
class SeveralRelaysTest {
    /** Test program numbers (the user-defined range), registered and removed here only. */
    private static final int OURS = 0x2000009a;
    private static final int HELD = 0x2000009b;

    @TempDir
    Path tmp;

    private Daemon daemon(String... args) throws Exception {
        TestPki.Ca ca = TestPki.ca("Relays CA");
        TestPki.writeServer(tmp.resolve("server"), ca.leaf("server").dns("localhost").issue());
        List<String> all = new ArrayList<>(List.of("-D", tmp.resolve("server").toString(), "--pidfile", tmp.resolve("pid").toString(),
                "--rpc-socket", tmp.resolve("rpctlssd.sock").toString()));
        all.addAll(List.of(args));
        Config c = new Cli("rpc.tlsservd", 2, "nfs.example.org", h -> null).parse(all.toArray(new String[0]));
        return Daemon.start(c);
    }

    private static int whoami(int port, int xid) throws Exception {
        try (RawRpc c = new RawRpc(port)) {
            c.send(FrontEndHarness.whoami(xid, FrontEndHarness.authNone()).bytes());
            return c.read().stat;
        }
    }

    @Test
    void eachListenerReachesItsOwnBackend() throws Exception {
        try (EchoBackend one = new EchoBackend(); EchoBackend two = new EchoBackend();
                Daemon d = daemon("--no-rpcbind", "--relay", "127.0.0.1:0,127.0.0.1:" + one.port(),
                        "--relay", "127.0.0.1:0,127.0.0.1:" + two.port())) {
            List<java.net.InetSocketAddress> at = d.frontEnd().addresses();
            assertEquals(2, at.size());
            assertEquals(0, whoami(at.get(0).getPort(), 1));
            assertEquals(0, whoami(at.get(1).getPort(), 2));
            assertEquals(0, whoami(at.get(1).getPort(), 3));
            assertEquals(1, one.calls.get());
            assertEquals(2, two.calls.get());
        }
    }

    @Test
    void namedProgramsAreRegisteredAtTheTlsPortUnlessSomeoneHoldsThem() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (PortmapClient pm = PortmapClient.udp(lo, 111, 2000)) {
            pm.unset(OURS, 1);
            pm.unset(OURS, 2);
            assertTrue(pm.set(HELD, 1, OncRpcProtocols.ONCRPC_TCP, 4242), "the test's stand-in for a backend's own registration");
            try (EchoBackend backend = new EchoBackend(); LogCapture log = LogCapture.daemon()) {
                int tls;
                try (Daemon d = daemon("--relay", "127.0.0.1:0,127.0.0.1:" + backend.port() + "," + Integer.toUnsignedString(OURS)
                        + "/1+2," + Integer.toUnsignedString(HELD) + "/1")) {
                    tls = d.frontEnd().addresses().get(0).getPort();
                    assertEquals(tls, pm.getPort(OURS, 1, OncRpcProtocols.ONCRPC_TCP), "rpcbind sends clients to the TLS port");
                    assertEquals(tls, pm.getPort(OURS, 2, OncRpcProtocols.ONCRPC_TCP), "every version named, not the first only");
                    assertEquals(4242, pm.getPort(HELD, 1, OncRpcProtocols.ONCRPC_TCP), "someone else's entry is not taken over");
                    assertTrue(log.has("at port 4242 already (the backend's own registration, or another program's): left alone"),
                            log.lines().toString());
                    assertEquals(0, whoami(tls, 1));
                }
                assertEquals(0, pm.getPort(OURS, 1, OncRpcProtocols.ONCRPC_TCP), "ours removed at exit");
                assertEquals(0, pm.getPort(OURS, 2, OncRpcProtocols.ONCRPC_TCP), "ours removed at exit");
                assertEquals(4242, pm.getPort(HELD, 1, OncRpcProtocols.ONCRPC_TCP), "theirs still there");
            } finally {
                pm.unset(HELD, 1);
                pm.unset(OURS, 1);
                pm.unset(OURS, 2);
            }
        }
    }
}
