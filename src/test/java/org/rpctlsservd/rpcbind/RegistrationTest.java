package org.rpctlsservd.rpcbind;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.OncRpcServerIdent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.ScriptedHandshaker;
import org.rpctlsservd.support.TestDaemons;

/**
 * Registration with the system's rpcbind (which the test tooling starts), the embedded
 * loopback-only portmapper where none answers, and running unregistered where neither works.
 */
class RegistrationTest {
    private static final int PROG = 1080521589;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    private static List<OncRpcServerIdent> systemDump() throws Exception {
        try (PortmapClient pm = PortmapClient.udp(InetAddress.getLoopbackAddress(), 111, 2000)) {
            return pm.dump();
        } catch (OncRpcException e) {
            throw new AssertionError("rpcbind must run on 127.0.0.1:111 for this test (tools/test starts it)", e);
        }
    }

    private static boolean systemHas(int protocol, int port) throws Exception {
        return systemDump().stream().anyMatch(m -> m.program == PROG && m.version == 2 && m.protocol == protocol && m.port == port);
    }

    private static boolean systemHasAny() throws Exception {
        return systemDump().stream().anyMatch(m -> m.program == PROG);
    }

    @Test
    void daemonRegistersWithRpcbindReplacingStaleEntriesAndUnsetsOnClose() throws Exception {
        try (PortmapClient pm = PortmapClient.udp(InetAddress.getLoopbackAddress(), 111, 2000)) {
            pm.unset(PROG, 2);
            assertTrue(pm.set(PROG, 2, OncRpcProtocols.ONCRPC_TCP, 1), "a stale registration from a killed daemon");
        }
        Config cfg = TestDaemons.config(1, 8, true);
        Daemon d = Daemon.start(cfg, new ScriptedHandshaker());
        try {
            assertEquals(Registration.Kind.SYSTEM_RPCBIND, d.registration().kind());
            assertTrue(systemHas(OncRpcProtocols.ONCRPC_TCP, d.port()));
            assertTrue(systemHas(OncRpcProtocols.ONCRPC_UDP, d.port()));
            assertFalse(systemHas(OncRpcProtocols.ONCRPC_TCP, 1), "the stale entry is gone");

            Commands.Result p = Commands.run(20, "rpcinfo", "-p", "127.0.0.1");
            assertEquals(0, p.status(), p.output());
            assertTrue(p.output().matches("(?s).*\\b1080521589\\s+2\\s+tcp\\s+" + d.port() + "\\b.*"), p.output());
            assertTrue(p.output().matches("(?s).*\\b1080521589\\s+2\\s+udp\\s+" + d.port() + "\\b.*"), p.output());
            for (String proto : new String[] {"tcp", "udp"}) {
                Commands.Result r = Commands.run(20, "rpcinfo", "-T", proto, "127.0.0.1", "1080521589", "2");
                assertEquals(0, r.status(), r.output());
                assertTrue(r.output().contains("program 1080521589 version 2 ready and waiting"), r.output());
            }
            Commands.Result v3 = Commands.run(20, "rpcinfo", "-T", "tcp", "127.0.0.1", "1080521589", "3");
            assertTrue(v3.output().contains("low version = 2, high version = 2"), v3.output());
            // the Unix-domain socket under netid "local", as libtirpc's svc_reg() registers one
            Commands.Result all = Commands.run(20, "rpcinfo");
            assertTrue(all.output().matches("(?s).*\\b1080521589\\s+2\\s+local\\s+" + java.util.regex.Pattern.quote(cfg.rpcSocket().toString()) + "\\s.*"),
                    all.output());
        } finally {
            d.close();
        }
        assertFalse(systemHasAny(), "unset on a clean exit");
        assertFalse(Commands.run(20, "rpcinfo").output().contains("1080521589"), "every netid unset, local too");
        Commands.Result p = Commands.run(20, "rpcinfo", "-p", "127.0.0.1");
        assertFalse(p.output().contains("1080521589"), p.output());
    }

    @Test
    void embeddedPortmapperWhereNoneAnswers() throws Exception {
        int pmapPort = TestDaemons.freePort();
        Registration r = Registration.register(PROG, 2, 4242, null, pmapPort, timer);
        try {
            assertEquals(Registration.Kind.EMBEDDED, r.kind());
            assertEquals(pmapPort, r.embedded().port());
            for (int protocol : new int[] {OncRpcProtocols.ONCRPC_UDP, OncRpcProtocols.ONCRPC_TCP}) {
                try (PortmapClient pm = new PortmapClient(InetAddress.getLoopbackAddress(), pmapPort, protocol, 2000)) {
                    pm.ping();
                    assertEquals(4242, pm.getPort(PROG, 2, OncRpcProtocols.ONCRPC_TCP));
                    assertEquals(4242, pm.getPort(PROG, 2, OncRpcProtocols.ONCRPC_UDP));
                    assertEquals(0, pm.getPort(PROG, 3, OncRpcProtocols.ONCRPC_UDP));
                    List<OncRpcServerIdent> dump = pm.dump();
                    assertEquals(4, dump.size(), "portmapper tcp+udp and ours tcp+udp");
                }
            }
            // As rpcbind: SET and UNSET from an unprivileged port are refused and change nothing ...
            try (PortmapClient pm = PortmapClient.udp(InetAddress.getLoopbackAddress(), pmapPort, 2000)) {
                assertFalse(pm.set(100003, 3, OncRpcProtocols.ONCRPC_TCP, 2049));
                assertFalse(pm.set(PROG, 2, OncRpcProtocols.ONCRPC_TCP, 9999), "nobody replaces the daemon's registration");
                assertFalse(pm.unset(PROG, 2));
                assertEquals(4242, pm.getPort(PROG, 2, OncRpcProtocols.ONCRPC_TCP));
                assertEquals(0, pm.getPort(100003, 3, OncRpcProtocols.ONCRPC_TCP));
            }
            // ... and taken from a reserved one
            try (RawRpc root = new RawRpc(RawRpc.connectFromReservedPort(pmapPort));
                    PortmapClient pm = PortmapClient.udp(InetAddress.getLoopbackAddress(), pmapPort, 2000)) {
                root.send(pmap(1, 1, 100003, 3, OncRpcProtocols.ONCRPC_TCP, 2049));
                assertEquals(1, root.read().result.getInt(), "SET from a reserved port");
                root.send(pmap(2, 1, 100003, 3, OncRpcProtocols.ONCRPC_TCP, 2050));
                assertEquals(0, root.read().result.getInt(), "already mapped");
                assertEquals(2049, pm.getPort(100003, 3, OncRpcProtocols.ONCRPC_TCP));
                root.send(pmap(3, 2, 100003, 3, 0, 0));
                assertEquals(1, root.read().result.getInt(), "UNSET from a reserved port");
                assertEquals(0, pm.getPort(100003, 3, OncRpcProtocols.ONCRPC_TCP));
            }
            // libtirpc's rpcinfo talks to it; rpcbind versions 3 and 4 get PROG_MISMATCH(2, 2)
            Commands.Result ping = Commands.run(20, "rpcinfo", "-n", String.valueOf(pmapPort), "-T", "tcp", "127.0.0.1", "100000", "2");
            assertTrue(ping.output().contains("program 100000 version 2 ready and waiting"), ping.output());
            try (RawRpc raw = new RawRpc(pmapPort)) {
                raw.send(RawRpc.call().prog(100000).vers(4).bytes());
                RawRpc.Reply v4 = raw.read();
                assertEquals(2, v4.stat);
                assertEquals(2, v4.low);
                assertEquals(2, v4.high);
                raw.send(RawRpc.call().xid(2).prog(100000).vers(2).proc(5).args(new byte[16]).bytes());
                assertEquals(3, raw.read().stat, "CALLIT is not offered: PROC_UNAVAIL");
            }
        } finally {
            r.close();
        }
        try (ServerSocket again = new ServerSocket(pmapPort, 1, InetAddress.getLoopbackAddress())) {
            assertNotNull(again, "the embedded portmapper released its port");
        }
    }

    /** A portmap v2 SET (1) or UNSET (2) call. */
    private static byte[] pmap(int xid, int proc, int prog, int vers, int prot, int port) {
        byte[] args = java.nio.ByteBuffer.allocate(16).putInt(prog).putInt(vers).putInt(prot).putInt(port).array();
        return RawRpc.call().xid(xid).prog(100000).vers(2).proc(proc).args(args).bytes();
    }

    @Test
    void embeddedPortmapperServesLoopbackOnly() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> EmbeddedPortmapper.start(new java.net.InetSocketAddress("0.0.0.0", 0), timer));
    }

    @Test
    void unregisteredWhenNeitherWorks() throws Exception {
        // A TCP listener that is no portmapper holds the port: no answer, and no embedded one can bind.
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            java.util.List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.logging.Logger log = java.util.logging.Logger.getLogger(Registration.class.getName());
            java.util.logging.Handler h = new java.util.logging.Handler() {
                @Override
                public void publish(java.util.logging.LogRecord record) {
                    if (record.getLevel() == java.util.logging.Level.WARNING) {
                        warnings.add(record.getMessage());
                    }
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            log.addHandler(h);
            try {
                Registration r = Registration.register(PROG, 2, 4242, null, squatter.getLocalPort(), timer);
                assertEquals(Registration.Kind.NONE, r.kind());
                r.close();
            } finally {
                log.removeHandler(h);
            }
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).startsWith("not registered with rpcbind"), warnings.get(0));
            assertTrue(warnings.get(0).contains("served on 127.0.0.1 port 4242 (tcp, udp)"), warnings.get(0));
        }
    }
}
