package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.acplt.oncrpc.OncRpcDumpResult;
import org.acplt.oncrpc.OncRpcServerIdent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.rpcbind.PortmapClient;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TestUsers;
import org.rpctlsservd.support.TlsHarness;

/** What goes through the front end: credentials rewritten, real services, callbacks, many clients. */
class RelayTest {
    @TempDir
    Path tmp;

    private static final TestPki.Ca CA = TestPki.ca("Relay CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();

    @Test
    void certUserRewritesEveryAuthSysCredentialKeepingSixteenGroups() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        try (TestUsers small = TestUsers.create("rpctlsbob", "rpctlsb", 3);
                TestUsers big = TestUsers.create("rpctlscarl", "rpctlsc", 20);
                EchoBackend backend = new EchoBackend();
                LogCapture log = LogCapture.daemon();
                FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port(), "-m", "-l", caFile.toString(), "-u",
                        "-n", "example.org", "--require", "certuser")) {
            TestPki.Issued bobCert = CA.leaf("bob").user("rpctlsbob@example.org").issue();
            TestPki.Issued carlCert = CA.leaf("carl").user("rpctlscarl@example.org").issue();
            try (RawRpc bob = h.tls(TlsHarness.jdkClient(bobCert, CA, "TLSv1.3"))) {
                bob.send(FrontEndHarness.whoami(1, FrontEndHarness.authSys(0, 0, 0, 1, 2)).bytes());
                RawRpc.Reply r = bob.read();
                assertEquals(0, r.stat, r.toString());
                assertEquals(1, r.result.getInt(), "AUTH_SYS");
                assertEquals(small.uid, r.result.getInt(), "uid from the certificate, not the client's 0");
                assertEquals(small.gids[0], r.result.getInt(), "primary gid");
                int n = r.result.getInt();
                int[] rest = new int[n];
                for (int i = 0; i < n; i++) {
                    rest[i] = r.result.getInt();
                }
                assertArrayEquals(new int[] {small.gids[1], small.gids[2]}, rest);
            }
            try (RawRpc carl = h.tls(TlsHarness.jdkClient(carlCert, CA, "TLSv1.3"))) {
                for (int xid = 1; xid <= 2; xid++) {
                    carl.send(FrontEndHarness.whoami(xid, FrontEndHarness.authSys(4242, 4242)).bytes());
                    RawRpc.Reply r = carl.read();
                    assertEquals(1, r.result.getInt());
                    assertEquals(big.uid, r.result.getInt());
                    assertEquals(big.gids[0], r.result.getInt());
                    int n = r.result.getInt();
                    assertEquals(16, n, "AUTH_SYS carries at most 16 groups");
                    for (int i = 0; i < n; i++) {
                        assertEquals(big.gids[i + 1], r.result.getInt(), "the first 16 in order");
                    }
                }
                assertEquals(1, log.lines().stream().filter(l -> l.contains("AUTH_SYS carries the first 16")).count(),
                        "logged once per session");
                // AUTH_NONE is relayed as it is
                carl.send(FrontEndHarness.whoami(3, FrontEndHarness.authNone()).bytes());
                assertEquals(0, carl.read().result.getInt());
                // a call too large to be assembled (its head is decided on, the rest streams), in two fragments:
                // rewritten all the same, its first fragment's mark grown by what the credential grew
                byte[] data = java.nio.ByteBuffer.allocate(4 + 8192).putInt(8192).array(); // an opaque of 8 KiB
                byte[] large = FrontEndHarness.whoami(4, FrontEndHarness.authSys(4242, 4242)).proc(EchoBackend.WHOAMI_WITH_DATA)
                        .args(data).bytes();
                carl.sendRecord(java.util.Arrays.copyOf(large, 5000), false);
                carl.sendRecord(java.util.Arrays.copyOfRange(large, 5000, large.length), true);
                RawRpc.Reply r = carl.read();
                assertEquals(4, r.xid);
                assertEquals(0, r.stat, r.toString());
                assertEquals(1, r.result.getInt());
                assertEquals(big.uid, r.result.getInt(), "a streamed call is mapped to the certificate's user too");
                assertEquals(big.gids[0], r.result.getInt());
                int groups = r.result.getInt();
                assertEquals(16, groups);
                r.result.position(r.result.position() + 4 * groups);
                assertEquals(8192, r.result.getInt(), "every byte of the call after its head reached the backend");
            }
        }
    }

    @Test
    void certUserWithDisabledLeavesTheCredentialAlone() throws Exception {
        // reference case 35: CERTUSER|DISABLED must not use the mapping; AUTH_SYS is refused, AUTH_NONE passes as sent
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        try (TestUsers u = TestUsers.create("rpctlsdan", "rpctlsd", 1);
                EchoBackend backend = new EchoBackend();
                FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port(), "-m", "-l", caFile.toString(), "-u", "-h",
                        "-n", "example.org");
                RawRpc dan = h.tls(TlsHarness.jdkClient(CA.leaf("dan").dns("nfs.example.org").user("rpctlsdan@example.org").issue(),
                        CA, "TLSv1.3"))) {
            dan.send(FrontEndHarness.whoami(1, FrontEndHarness.authSys(7, 7)).bytes());
            FrontEndTest.assertAuthError(dan.read(), 2);
            dan.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
            RawRpc.Reply r = dan.read();
            assertEquals(0, r.stat);
            assertEquals(0, r.result.getInt(), "AUTH_NONE, not rewritten");
            assertEquals(1, backend.calls.get(), "only the AUTH_NONE call reached the backend");
        }
    }

    @Test
    void aConnectResultWithMoreThanNgroupsGidsIsRefused() throws Exception {
        org.rpctlsservd.rpc.XdrWriter w = new org.rpctlsservd.rpc.XdrWriter(64);
        w.xdrEncodeInt(0x2B);
        w.xdrEncodeInt(1000);
        w.xdrEncodeInt(1025);
        byte[] b = w.toByteArray();
        ConnectResult r = new ConnectResult();
        org.junit.jupiter.api.Assertions.assertThrows(org.acplt.oncrpc.OncRpcException.class,
                () -> r.xdrDecode(new XdrReader(b, 0, b.length)));
    }

    @Test
    void aPortmapperDumpOverTlsEqualsTheClearTextOne() throws Exception {
        List<OncRpcServerIdent> clear;
        try (PortmapClient pm = new PortmapClient(InetAddress.getLoopbackAddress(), 111, 6, 5000)) {
            clear = pm.dump();
        }
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, 111); RawRpc t = h.tls(TlsHarness.jdkClient(null, CA, "TLSv1.3"), "sunrpc")) {
            t.send(RawRpc.call().xid(77).prog(100000).vers(2).proc(4).bytes());
            byte[] rec = t.readRecord();
            RawRpc.Reply r = RawRpc.Reply.parse(rec);
            assertEquals(77, r.xid);
            assertEquals(0, r.stat);
            byte[] body = new byte[r.result.remaining()];
            r.result.get(body);
            OncRpcDumpResult dump = new OncRpcDumpResult();
            dump.xdrDecode(new XdrReader(body, 0, body.length));
            assertEquals(render(clear), render(dump.servers));
            assertTrue(render(clear).contains("100000/2/6/111"), render(clear));
        }
    }

    private static String render(List<?> idents) {
        List<String> out = new ArrayList<>();
        for (Object o : idents) {
            OncRpcServerIdent i = (OncRpcServerIdent) o;
            out.add(i.program + "/" + i.version + "/" + i.protocol + "/" + i.port);
        }
        java.util.Collections.sort(out);
        return out.toString();
    }

    /**
     * The backend's first connection that sends a record, its record in {@code first[0]}: the
     * front end's health probe (BackendHealth) may come before it, connecting and closing with nothing sent.
     */
    static RawRpc caller(ServerSocket raw, byte[][] first) throws IOException {
        while (true) {
            RawRpc s = new RawRpc(raw.accept());
            try {
                first[0] = s.readRecord();
                return s;
            } catch (java.io.EOFException probe) {
                s.close();
            }
        }
    }

    @Test
    void callbacksFromTheBackendReachTheClientOnTheSameConnection() throws Exception {
        try (ServerSocket raw = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            ExecutorService ex = Executors.newSingleThreadExecutor();
            // A backend that, on a call, first calls the client back and then answers with what the client said.
            Future<Integer> served = ex.submit(() -> {
                byte[][] first = new byte[1][];
                try (RawRpc s = caller(raw, first)) {
                    byte[] call = first[0];
                    int xid = ByteBuffer.wrap(call).getInt();
                    s.send(RawRpc.call().xid(0xCB).prog(0x40000001).vers(1).proc(1).args(new byte[] {0, 0, 0, 42}).bytes());
                    byte[] cbReply = s.readRecord();
                    ByteBuffer b = ByteBuffer.wrap(cbReply);
                    int cbXid = b.getInt();
                    b.position(cbReply.length - 4);
                    int value = b.getInt();
                    s.send(ByteBuffer.allocate(28).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).putInt(value).array());
                    try {
                        s.readRecord();
                    } catch (java.io.EOFException | java.net.SocketException gone) {
                        // the client went: done (a reserved source port is closed with a reset)
                    }
                    return cbXid;
                } catch (IOException e) {
                    return -1;
                }
            });
            try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, raw.getLocalPort());
                    RawRpc t = h.tls(TlsHarness.jdkClient(null, CA, "TLSv1.3"))) {
                t.send(RawRpc.call().xid(5).prog(0x20000099).vers(1).proc(9).bytes());
                byte[] callback = t.readRecord();
                ByteBuffer cb = ByteBuffer.wrap(callback);
                assertEquals(0xCB, cb.getInt());
                assertEquals(0, cb.getInt(), "a CALL from the backend");
                // the client answers the callback with 43
                t.send(ByteBuffer.allocate(28).putInt(0xCB).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).putInt(43).array());
                RawRpc.Reply r = t.read();
                assertEquals(5, r.xid);
                assertEquals(43, r.result.getInt(), "the backend got the client's reply to its callback");
            }
            assertEquals(0xCB, served.get(20, TimeUnit.SECONDS));
            ex.shutdownNow();
        }
    }

    @Test
    void aReplyOfTheFrontEndsOwnWaitsForTheEndOfTheBackendsRecord() throws Exception {
        // The backend's replies are passed on as they arrive, so the front end's own reply (here
        // TOOWEAK) must not land inside a backend record that is only half through.
        byte[] big = new byte[200_000];
        new java.util.Random(3).nextBytes(big);
        try (ServerSocket raw = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            ExecutorService ex = Executors.newSingleThreadExecutor();
            Future<Integer> served = ex.submit(() -> {
                byte[][] record = new byte[1][];
                try (RawRpc s = caller(raw, record)) {
                    int first = ByteBuffer.wrap(record[0]).getInt();
                    ByteBuffer reply = ByteBuffer.allocate(4 + 24 + big.length);
                    reply.putInt(0x80000000 | (24 + big.length)).putInt(first).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).put(big);
                    byte[] all = reply.array();
                    s.sendRaw(java.util.Arrays.copyOf(all, 50_000)); // half a record, then wait for the next call
                    int third = ByteBuffer.wrap(s.readRecord()).getInt();
                    s.sendRaw(java.util.Arrays.copyOfRange(all, 50_000, all.length));
                    s.send(ByteBuffer.allocate(24).putInt(third).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).array());
                    return third;
                }
            });
            try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, raw.getLocalPort(), "--require", "tls");
                    RawRpc c = h.plain()) {
                c.send(RawRpc.call().xid(1).prog(0x20000099).vers(1).proc(0).bytes()); // NULL: relayed
                java.io.DataInputStream in = new java.io.DataInputStream(c.socket().getInputStream());
                int mark = in.readInt();
                assertEquals(0x80000000 | (24 + big.length), mark);
                byte[] rec = new byte[24 + big.length];
                in.readFully(rec, 0, 1000); // the backend's record is under way
                c.send(RawRpc.call().xid(2).prog(0x20000099).vers(1).proc(1).bytes()); // answered here: TOOWEAK
                c.send(RawRpc.call().xid(3).prog(0x20000099).vers(1).proc(0).bytes()); // relayed after it
                in.readFully(rec, 1000, rec.length - 1000);
                assertArrayEquals(big, java.util.Arrays.copyOfRange(rec, 24, rec.length), "the backend's record arrived whole");
                assertEquals(1, ByteBuffer.wrap(rec).getInt());
                RawRpc.Reply r2 = c.read();
                assertEquals(2, r2.xid);
                assertEquals(1, r2.replyStat, "MSG_DENIED");
                assertEquals(5, r2.authStat, "AUTH_TOOWEAK");
                assertEquals(3, c.read().xid);
            }
            assertEquals(3, served.get(20, TimeUnit.SECONDS));
            ex.shutdownNow();
        }
    }

    @Test
    void fiveHundredConcurrentTlsClients() throws Exception {
        int n = 500;
        try (EchoBackend backend = new EchoBackend();
                // 500 backend connections at once: more than one source address's reserved ports (359)
                FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port(), "--connect-queue", "2000",
                        "--handshake-timeout", "60", "--upcall-timeout", "90", "--backend-source", "127.0.0.1",
                        "--backend-source", "127.0.0.2")) {
            SSLContext ctx = TlsHarness.jdkClient(null, CA, "TLSv1.3");
            ExecutorService pool = Executors.newFixedThreadPool(n);
            java.util.concurrent.CountDownLatch allConnected = new java.util.concurrent.CountDownLatch(n);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int xid = 1000 + i;
                results.add(pool.submit(() -> {
                    try (RawRpc t = h.tls(ctx)) {
                        t.socket().setSoTimeout(120_000);
                        allConnected.countDown();
                        release.await(120, TimeUnit.SECONDS); // all 500 sessions live at once
                        t.send(FrontEndHarness.whoami(xid, FrontEndHarness.authSys(xid, 1)).bytes());
                        RawRpc.Reply r = t.read();
                        if (r.xid != xid || r.stat != 0) {
                            return -1;
                        }
                        r.result.getInt();
                        return r.result.getInt();
                    }
                }));
            }
            assertTrue(allConnected.await(180, TimeUnit.SECONDS), "all clients through their handshakes");
            // a client is done with its handshake a moment before the server has read its Finished
            org.rpctlsservd.support.Await.until(() -> h.daemon.sessions().size() == n, "500 sessions at once", 60);
            release.countDown();
            for (int i = 0; i < n; i++) {
                assertEquals(1000 + i, results.get(i).get(180, TimeUnit.SECONDS), "client " + i + " got its own answer");
            }
            pool.shutdown();
            FrontEndTest.assertNothingLeft(h);
            assertEquals(n, h.daemon.frontEnd().stats().handshakes());
        }
    }

    @Test
    void aClientNoOneHereWroteOpenSslThroughPython() throws Exception {
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
        Path script = Path.of("tools", "rpctls-dump").toAbsolutePath();
        try (LogCapture log = LogCapture.daemon(); FrontEndHarness h = new FrontEndHarness(tmp, SERVER, 111)) {
            Commands.Result r = Commands.run(60, "python3", script.toString(), "127.0.0.1", String.valueOf(h.port), caFile.toString());
            assertEquals(0, r.status(), r.output());
            assertTrue(r.output().contains("starttls ok"), r.output());
            assertTrue(r.output().contains("tls TLSv1.3 alpn sunrpc"), r.output());
            assertTrue(r.output().matches("(?s).*dump .*100000/2/6/111.*"), r.output());
            String audit = log.find("handshake peer=127.0.0.1");
            assertTrue(audit.contains("result=ok version=TLS1.3") && audit.contains("alpn=sunrpc"), audit);
        }
    }
}
