package org.rpctlsservd.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.ScriptedHandshaker;
import org.rpctlsservd.support.TestDaemons;

/**
 * Deferred CONNECT replies: pipelined on one connection, out of order, each with its own xid;
 * the receiving side keeps answering while every worker is busy; the cap is never exceeded;
 * a full queue and a vanished caller are handled at once.
 */
class DeferredConnectTest {
    private final ScriptedHandshaker handshaker = new ScriptedHandshaker();
    private final List<SocketChannel> clientEnds = new ArrayList<>();
    private Daemon daemon;

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (SocketChannel c : clientEnds) {
            c.close();
        }
    }

    private long park() throws Exception {
        SocketChannel[] pair = TestDaemons.pair();
        clientEnds.add(pair[1]);
        return daemon.handoff().park(pair[0]);
    }

    static RawRpc.Call connect(int xid, long cookie) {
        return RawRpc.call().xid(xid).proc(1).args(RawRpc.hyper(cookie));
    }


    @Test
    void pipelinedCallsGetTheirOwnXidsOutOfOrder() throws Exception {
        int n = 2;
        daemon = TestDaemons.start(n, 64, handshaker);
        int connects = 12;
        long[] cookies = new long[connects];
        for (int i = 0; i < connects; i++) {
            cookies[i] = park();
            handshaker.hold(cookies[i]);
            handshaker.flags(cookies[i], 0x01 | (i << 8));
        }
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            // CONNECTs with xids 1000+i interleaved with NULLs (xids 2000+i), all written before any reply.
            for (int i = 0; i < connects; i++) {
                rpc.send(connect(1000 + i, cookies[i]).bytes());
                rpc.send(RawRpc.call().xid(2000 + i).proc(0).bytes());
            }
            // All N workers are busy and the rest queued; every NULL is still answered, in order.
            for (int i = 0; i < connects; i++) {
                RawRpc.Reply r = rpc.read();
                assertEquals(2000 + i, r.xid, "NULL replies come while the handshakes are held");
                assertEquals(0, r.stat);
            }
            Await.until(() -> daemon.workers().running() == n, "both workers busy");
            assertEquals(connects - n, daemon.workers().queued());
            // HANDLERECORD and DISCONNECT too, while all slots are busy.
            rpc.send(RawRpc.call().xid(3000).proc(2).args(RawRpc.hyper(42)).bytes());
            RawRpc.Reply hr = rpc.read();
            assertEquals(3000, hr.xid);
            assertEquals(2, hr.result.getInt());
            rpc.send(RawRpc.call().xid(3001).proc(3).args(RawRpc.hyper(42)).bytes());
            RawRpc.Reply dc = rpc.read();
            assertEquals(3001, dc.xid);
            assertEquals(1, dc.result.getInt());

            // Release in reverse order: each reply carries its own xid and its own result.
            Map<Integer, Integer> flagsByXid = new HashMap<>();
            for (int i = connects - 1; i >= 0; i--) {
                handshaker.release(cookies[i]);
            }
            for (int i = 0; i < connects; i++) {
                RawRpc.Reply r = rpc.read();
                assertEquals(0, r.replyStat);
                assertEquals(0, r.stat);
                flagsByXid.put(r.xid, r.result.getInt());
            }
            assertEquals(connects, flagsByXid.size());
            for (int i = 0; i < connects; i++) {
                assertEquals(0x01 | (i << 8), flagsByXid.get(1000 + i), "xid " + (1000 + i));
            }
        }
        assertTrue(daemon.workers().peak() <= n, "peak " + daemon.workers().peak() + " within the cap " + n);
        assertEquals(n, daemon.workers().peak());
        assertEquals(connects, daemon.sessions().size());
    }

    @Test
    void theCapIsNeverExceeded() throws Exception {
        int n = 1;
        daemon = TestDaemons.start(n, 64, handshaker);
        List<Long> cookies = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            long c = park();
            handshaker.hold(c);
            cookies.add(c);
        }
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            for (int i = 0; i < cookies.size(); i++) {
                rpc.send(connect(i + 1, cookies.get(i)).bytes());
            }
            Await.until(() -> daemon.workers().running() == 1 && daemon.workers().queued() == 7, "one running, seven queued");
            rpc.send(RawRpc.call().xid(99).proc(0).bytes());
            assertEquals(99, rpc.read().xid, "NULL answered with the only worker busy");
            for (int i = 0; i < cookies.size(); i++) {
                handshaker.release(cookies.get(i));
                RawRpc.Reply r = rpc.read();
                assertEquals(i + 1, r.xid, "with one worker the handshakes finish in order");
                assertTrue(daemon.workers().running() <= 1);
            }
        }
        assertEquals(1, daemon.workers().peak());
    }

    @Test
    void aFullQueueIsRefusedAtOnce() throws Exception {
        daemon = TestDaemons.start(1, 1, handshaker);
        long first = park();
        long second = park();
        long third = park();
        handshaker.hold(first);
        handshaker.hold(second);
        try (RawRpc rpc = new RawRpc(daemon.port())) {
            rpc.send(connect(1, first).bytes());
            Await.until(() -> handshaker.started.get() == 1, "first handshake running, its socket claimed");
            rpc.send(connect(2, second).bytes());
            Await.until(() -> daemon.workers().queued() == 1, "second queued");
            rpc.send(connect(3, third).bytes());
            RawRpc.Reply refused = rpc.read();
            assertEquals(3, refused.xid);
            assertEquals(0, refused.replyStat);
            assertEquals(5, refused.stat, "SYSTEM_ERR when the queue is full");
            assertEquals(2, daemon.handoff().size(), "the queued call's and the refused call's sockets are still parked");
            handshaker.release(first);
            handshaker.release(second);
            assertEquals(1, rpc.read().xid);
            assertEquals(2, rpc.read().xid);
        }
    }

    @Test
    void aReplyWhoseCallerHasGoneIsDroppedAndItsSessionClosed() throws Exception {
        daemon = TestDaemons.start(1, 8, handshaker);
        long cookie = park();
        handshaker.hold(cookie);
        RawRpc rpc = new RawRpc(daemon.port());
        rpc.send(connect(7, cookie).bytes());
        Await.until(() -> daemon.workers().running() == 1, "handshake running");
        rpc.close();
        Await.until(() -> daemon.server().tcp().connectionCount() == 0, "the server noticed the caller left");
        handshaker.release(cookie);
        Await.until(() -> daemon.workers().running() == 0, "slot released");
        Await.until(() -> handshaker.sessions.containsKey(cookie) && handshaker.sessions.get(cookie).disconnected,
                "the orphaned session is closed");
        assertNull(daemon.sessions().get(cookie), "no session outlives a reply nobody can receive");
        assertFalse(handshaker.sessions.get(cookie).isOpen());
        // The slot is free: the next CONNECT runs.
        long next = park();
        try (RawRpc again = new RawRpc(daemon.port())) {
            again.send(connect(8, next).bytes());
            RawRpc.Reply r = again.read();
            assertEquals(8, r.xid);
            assertEquals(0, r.stat);
        }
    }
}
