package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/** A handshake waiting for its peer holds no worker: stalled clients block nobody, and time out. */
class StalledClientTest {
    @TempDir
    Path tmp;

    @Test
    void twentyStalledClientsDoNotStopAnotherHandshakeWithOneWorker() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        List<Socket> stalled = new ArrayList<>();
        try (TlsHarness h = new TlsHarness(tmp, ca, ca.leaf("server").dns("localhost").issue(), "-N", "1",
                "--handshake-timeout", "60");
                RawRpc pipelined = new RawRpc(h.daemon.port())) {
            for (int i = 0; i < 20; i++) {
                stalled.add(new Socket("127.0.0.1", h.listenPort())); // connects, never says a word
                long cookie = h.acceptAndPark();
                pipelined.send(RawRpc.call().xid(100 + i).proc(1).args(RawRpc.hyper(cookie)).bytes());
            }
            // the worker may still be finishing the last one's first step when it is counted in flight
            Await.until(() -> h.daemon.engine().inFlight() == 20 && h.daemon.workers().running() == 0,
                    "twenty handshakes waiting for their peers, none of them holding the only worker");

            long t0 = System.nanoTime();
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.3"));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(0x01, a.flags());
            assertEquals(20, h.daemon.engine().inFlight(), "it finished while all twenty still stalled");
            System.out.println("handshake beside 20 stalled clients with -N 1: " + ms + " ms");
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    @Test
    void aHandshakeThatMissesItsDeadlineIsAnsweredAndItsSocketClosed() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        try (LogCapture log = LogCapture.daemon();
                TlsHarness h = new TlsHarness(tmp, ca, ca.leaf("server").issue(), "--handshake-timeout", "0.3");
                RawRpc rpc = new RawRpc(h.daemon.port());
                Socket s = new Socket("127.0.0.1", h.listenPort())) {
            long cookie = h.acceptAndPark();
            rpc.send(RawRpc.call().xid(9).proc(1).args(RawRpc.hyper(cookie)).bytes());
            RawRpc.Reply r = rpc.read();
            assertEquals(9, r.xid);
            assertEquals(5, r.stat, "SYSTEM_ERR once the deadline passed");
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            assertEquals(-1, in.read(), "the daemon closed the stalled socket");
            assertTrue(log.find("result=failed").contains("no handshake within 300 ms"), log.find("result=failed"));
            assertEquals(0, h.daemon.engine().inFlight());
            assertEquals(0, h.daemon.sessions().size());
        }
    }

    @Test
    void aClientThatStallsHalfwayTimesOutToo() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        try (TlsHarness h = new TlsHarness(tmp, ca, ca.leaf("server").issue(), "--handshake-timeout", "0.3");
                RawRpc rpc = new RawRpc(h.daemon.port());
                Socket s = new Socket("127.0.0.1", h.listenPort())) {
            // the first 10 bytes of a TLS record header and a ClientHello, then nothing
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03});
            long cookie = h.acceptAndPark();
            rpc.send(RawRpc.call().xid(10).proc(1).args(RawRpc.hyper(cookie)).bytes());
            assertEquals(5, rpc.read().stat);
            assertEquals(0, h.daemon.engine().inFlight());
        }
    }
}
