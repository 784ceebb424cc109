package org.rpctlsservd.connector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestDaemons;

/** What the connector's ITs share: starting rpc.tlsclntd with connectors, and plain RPC calls through them. */
final class ConnectorFixture {
    /** Generous for the first call, which waits for two JVMs' first handshakes on a loaded 2-core machine. */
    static final int FIRST_CALL_MS = 60_000;

    private ConnectorFixture() {
    }

    /** A free loopback port for a connector to listen on. */
    static int freePort() throws IOException {
        return TestDaemons.freePort();
    }

    /**
     * rpc.tlsclntd in the foreground with {@code -d}, the CA file {@code ca} (-l), certificates from
     * {@code certDir} (-D), no pidfile, its own socket in {@code dir}, no rpcbind; then {@code extra}.
     */
    static DaemonProcess client(Path dir, Path certDir, Path ca, String... extra) throws Exception {
        java.nio.file.Files.createDirectories(certDir); // without -m it holds nothing, but it is there
        List<String> a = new ArrayList<>(List.of("-d", "-D", certDir.toString(), "--no-pidfile", "--rpc-socket",
                dir.resolve("rpctlscd.sock").toString(), "--no-rpcbind"));
        if (ca != null) {
            a.addAll(List.of("-l", ca.toString()));
        }
        a.addAll(Arrays.asList(extra));
        return DaemonProcess.startClient(dir, List.of("-Xmx256m"), a.toArray(new String[0]));
    }

    /** {@code --connect 127.0.0.1:listen,server} as two arguments. */
    static String[] connect(int listen, String server) {
        return new String[] {"--connect", "127.0.0.1:" + listen + "," + server};
    }

    /** A plain RPC connection to a connector, patient enough for the first handshake. */
    static RawRpc plain(int port) throws IOException {
        RawRpc r = new RawRpc(port);
        r.socket().setSoTimeout(FIRST_CALL_MS);
        return r;
    }

    static RawRpc.Call call(int xid, int program, int procedure, byte[] args) {
        return RawRpc.call().xid(xid).prog(program).vers(1).proc(procedure).args(args);
    }

    /** An AUTH_SYS credential for uid and gid {@code id}. */
    static byte[] authSys(int id) {
        return RawRpc.opaqueAuth(1, RawRpc.authSysBody("connector-it", id, id, 0, new int[0]));
    }

    /** Sends {@code call} and reads its reply, checking the xid. */
    static RawRpc.Reply roundTrip(RawRpc rpc, RawRpc.Call call, int xid) throws IOException {
        rpc.send(call.bytes());
        RawRpc.Reply r = rpc.read();
        assertEquals(xid, r.xid, "the reply's xid");
        assertEquals(1, r.type, "a REPLY");
        return r;
    }

    /** A reply MSG_ACCEPTED with SUCCESS; its result. */
    static ByteBuffer success(RawRpc.Reply r) {
        assertEquals(0, r.replyStat, "MSG_ACCEPTED: " + r);
        assertEquals(0, r.stat, "SUCCESS: " + r);
        return r.result;
    }

    /**
     * The connector closes the client without answering: a call sent (or refused by a closed socket)
     * gets no reply, only the end of the connection.
     */
    static void assertClosedUnanswered(int port, String why) throws IOException {
        try (RawRpc rpc = plain(port)) {
            try {
                rpc.send(call(77, 100003, 0, new byte[0]).bytes());
            } catch (IOException e) {
                return; // closed already: nothing was answered
            }
            assertTrue(rpc.closedByServer(), "the connector closed the client (" + why + ")");
        }
    }
}
