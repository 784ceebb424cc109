package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.ScriptedHandshaker;
import org.rpctlsservd.support.TestDaemons;

/** Every malformed or misdirected call gets the reply RFC 5531 prescribes, and leaves nothing behind. */
class MalformedCallsTest {
    private static final int MSG_ACCEPTED = 0;
    private static final int MSG_DENIED = 1;
    private static final int PROG_UNAVAIL = 1;
    private static final int PROG_MISMATCH = 2;
    private static final int PROC_UNAVAIL = 3;
    private static final int GARBAGE_ARGS = 4;
    private static final int RPC_MISMATCH = 0;
    private static final int AUTH_ERROR = 1;
    private static final int AUTH_BADCRED = 1;
    private static final int AUTH_REJECTEDCRED = 2;
    private static final int AUTH_BADVERF = 3;

    private Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(1, 8, new ScriptedHandshaker());
    }

    @AfterEach
    void stop() throws Exception {
        Await.until(() -> daemon.server().tcp().connectionCount() == 0, "every connection closed");
        Await.until(() -> connectionThreads() == 0, "every connection thread ended");
        daemon.close();
    }

    private long connectionThreads() {
        String prefix = "rpc-tcp-" + daemon.port() + "-";
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix) && t.isAlive()).count();
    }


    private RawRpc.Reply roundTrip(RawRpc.Call call) throws Exception {
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            rpc.send(call.bytes());
            RawRpc.Reply r = rpc.read();
            // the connection still works after the bad call
            rpc.send(RawRpc.call().xid(424242).bytes());
            RawRpc.Reply ok = rpc.read();
            assertEquals(424242, ok.xid);
            assertEquals(MSG_ACCEPTED, ok.replyStat);
            assertEquals(0, ok.stat);
            return r;
        }
    }

    private static void assertAuthError(RawRpc.Reply r, int authStat) {
        assertEquals(MSG_DENIED, r.replyStat, r.toString());
        assertEquals(AUTH_ERROR, r.stat, r.toString());
        assertEquals(authStat, r.authStat, r.toString());
    }

    private static void assertAccepted(RawRpc.Reply r, int stat) {
        assertEquals(MSG_ACCEPTED, r.replyStat, r.toString());
        assertEquals(stat, r.stat, r.toString());
        assertEquals(0, r.verfFlavor);
        assertEquals(0, r.verfBody.length);
    }

    @Test
    void wrongRpcVersionGetsRpcMismatch() throws Exception {
        RawRpc.Reply r = roundTrip(RawRpc.call().xid(5).rpcvers(3));
        assertEquals(5, r.xid);
        assertEquals(1, r.type);
        assertEquals(MSG_DENIED, r.replyStat);
        assertEquals(RPC_MISMATCH, r.stat);
        assertEquals(2, r.low);
        assertEquals(2, r.high);
    }

    @Test
    void oversizedCredentialGetsBadCred() throws Exception {
        assertAuthError(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(0, new byte[404]))), AUTH_BADCRED);
    }

    @Test
    void credentialLengthBeyondTheRecordGetsBadCred() throws Exception {
        byte[] cred = ByteBuffer.allocate(8).putInt(1).putInt(0x7ffffff0).array();
        assertAuthError(roundTrip(RawRpc.call().credRaw(cred).verfRaw(new byte[0])), AUTH_BADCRED);
    }

    @Test
    void authSysWithSeventeenGidsGetsBadCred() throws Exception {
        byte[] body = RawRpc.authSysBody("host", 1000, 1000, 17, new int[17]);
        assertAuthError(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(1, body))), AUTH_BADCRED);
    }

    @Test
    void authSysWithAHugeGidCountGetsBadCredWithoutAllocating() throws Exception {
        for (int count : new int[] {0x7ffffff0, 0xffffff00}) {
            byte[] body = RawRpc.authSysBody("host", 1000, 1000, count, new int[0]);
            assertAuthError(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(1, body))), AUTH_BADCRED);
        }
    }

    @Test
    void authSysWithTrailingBytesGetsBadCred() throws Exception {
        byte[] good = RawRpc.authSysBody("host", 1000, 1000, 1, new int[] {5});
        byte[] body = ByteBuffer.allocate(good.length + 4).put(good).putInt(9).array();
        assertAuthError(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(1, body))), AUTH_BADCRED);
    }

    @Test
    void aValidAuthSysCallIsServed() throws Exception {
        byte[] body = RawRpc.authSysBody("host", 1000, 1000, 16, new int[16]);
        assertAccepted(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(1, body))), 0);
    }

    @Test
    void unsupportedFlavorsGetRejectedCred() throws Exception {
        for (int flavor : new int[] {2, 3, 6, 7}) {
            assertAuthError(roundTrip(RawRpc.call().credRaw(RawRpc.opaqueAuth(flavor, new byte[0]))), AUTH_REJECTEDCRED);
        }
    }

    @Test
    void oversizedVerifierGetsBadVerf() throws Exception {
        assertAuthError(roundTrip(RawRpc.call().verfRaw(RawRpc.opaqueAuth(0, new byte[408]))), AUTH_BADVERF);
    }

    @Test
    void otherProgramsGetProgUnavail() throws Exception {
        assertAccepted(roundTrip(RawRpc.call().prog(100003)), PROG_UNAVAIL);
    }

    @Test
    void otherVersionsGetProgMismatch() throws Exception {
        for (int v : new int[] {1, 3}) {
            RawRpc.Reply r = roundTrip(RawRpc.call().vers(v));
            assertAccepted(r, PROG_MISMATCH);
            assertEquals(2, r.low);
            assertEquals(2, r.high);
        }
    }

    @Test
    void unknownProceduresGetProcUnavail() throws Exception {
        assertAccepted(roundTrip(RawRpc.call().proc(4)), PROC_UNAVAIL);
        assertAccepted(roundTrip(RawRpc.call().proc(-1)), PROC_UNAVAIL);
    }

    @Test
    void shortArgumentsGetGarbageArgs() throws Exception {
        for (int proc = 1; proc <= 3; proc++) {
            assertAccepted(roundTrip(RawRpc.call().proc(proc).args(new byte[4])), GARBAGE_ARGS);
        }
    }

    @Test
    void trailingArgumentsGetGarbageArgs() throws Exception {
        assertAccepted(roundTrip(RawRpc.call().proc(0).args(new byte[4])), GARBAGE_ARGS);
        for (int proc = 1; proc <= 3; proc++) {
            assertAccepted(roundTrip(RawRpc.call().proc(proc).args(new byte[12])), GARBAGE_ARGS);
        }
        assertEquals(0, daemon.handoff().size());
        assertEquals(0, daemon.workers().peak(), "no CONNECT reached the workers");
    }

    @Test
    void aReplyOrATruncatedHeaderIsDroppedAndTheConnectionGoesOn() throws Exception {
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            rpc.send(RawRpc.call().xid(1).type(1).bytes());
            rpc.send(new byte[] {0, 0, 0, 9});
            rpc.send(ByteBuffer.allocate(12).putInt(3).putInt(0).putInt(2).array());
            rpc.send(RawRpc.call().xid(2).bytes());
            assertEquals(2, rpc.read().xid, "the first reply is to the first well-formed call");
        }
    }

    @Test
    void callsSplitAcrossFragmentsAreReassembled() throws Exception {
        byte[] call = RawRpc.call().xid(77).proc(2).args(RawRpc.hyper(5)).bytes();
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            rpc.sendRecord(java.util.Arrays.copyOfRange(call, 0, 10), false);
            rpc.sendRecord(java.util.Arrays.copyOfRange(call, 10, 20), false);
            rpc.sendRecord(java.util.Arrays.copyOfRange(call, 20, call.length), true);
            RawRpc.Reply r = rpc.read();
            assertEquals(77, r.xid);
            assertEquals(2, r.result.getInt());
        }
    }

    @Test
    void aRecordOverTheCapClosesTheConnection() throws Exception {
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            rpc.sendRaw(ByteBuffer.allocate(4).putInt(0x80000000 | (64 * 1024 + 1)).array());
            assertTrue(rpc.closedByServer(), "the server closes a connection that announces an oversized record");
        }
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            // fragments that add up past the cap, none of them large
            byte[] chunk = new byte[16 * 1024];
            for (int i = 0; i < 4; i++) {
                rpc.sendRecord(chunk, false);
            }
            rpc.sendRecord(new byte[8], true);
            assertTrue(rpc.closedByServer());
        }
    }

    @Test
    void udpGetsTheSameReplies() throws Exception {
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            s.setSoTimeout(10_000);
            byte[][] calls = {
                RawRpc.call().xid(11).rpcvers(3).bytes(),
                RawRpc.call().xid(12).prog(100003).bytes(),
                RawRpc.call().xid(13).proc(2).args(new byte[4]).bytes(),
                RawRpc.call().xid(14).credRaw(RawRpc.opaqueAuth(1, RawRpc.authSysBody("h", 0, 0, 17, new int[17]))).bytes(),
                RawRpc.call().xid(15).proc(3).args(RawRpc.hyper(1)).bytes(),
            };
            for (byte[] c : calls) {
                s.send(new DatagramPacket(c, c.length, InetAddress.getLoopbackAddress(), daemon.port()));
            }
            RawRpc.Reply[] replies = new RawRpc.Reply[5];
            for (int i = 0; i < calls.length; i++) {
                DatagramPacket p = new DatagramPacket(new byte[1024], 1024);
                s.receive(p);
                RawRpc.Reply r = RawRpc.Reply.parse(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                replies[r.xid - 11] = r;
            }
            assertEquals(RPC_MISMATCH, replies[0].stat);
            assertEquals(MSG_DENIED, replies[0].replyStat);
            assertAccepted(replies[1], PROG_UNAVAIL);
            assertAccepted(replies[2], GARBAGE_ARGS);
            assertAuthError(replies[3], AUTH_BADCRED);
            assertAccepted(replies[4], 0);
            assertEquals(1, replies[4].result.getInt(), "DISCONNECT of an unknown cookie: NOCLOSE");
        }
    }
}
