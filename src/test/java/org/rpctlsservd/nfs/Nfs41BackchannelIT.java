package org.rpctlsservd.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.acplt.oncrpc.OncRpcException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.rpc.XdrWriter;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.Ganesha;
import org.rpctlsservd.support.Nfs41Client;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * NFSv4.1 with the back channel bound to the relayed connection (issue 17): an {@link Nfs41Client}
 * over RFC 9289 TLS through the packaged daemon's front end, to nfs-ganesha 4.3 ({@link Ganesha}), with
 * and without {@code --require tls}.
 *
 * <p>Ganesha 4.3 with FSAL_VFS sends no callback on a v4.1 back channel: it sends no CB_NULL after
 * CREATE_SESSION (only NFSv4.0's SETCLIENTID_CONFIRM probes, over a connection of its own), and its only
 * v4.1 callbacks recall delegations and layouts, which FSAL_VFS never grants. So against ganesha the
 * test shows what ganesha does observe: the back channel granted on the relayed connection and the
 * callback path up (SEQUENCE without SEQ4_STATUS_CB_PATH_DOWN, which a client without one gets). The
 * CALL and REPLY records themselves cross the relay in a second test, whose backend is a small RPC
 * peer that calls back as a v4.1 server does (CB_NULL, CB_COMPOUND with CB_SEQUENCE) and answers the
 * client's COMPOUND only when both replies have reached it.
 */
class Nfs41BackchannelIT {
    static final int SECONDS = 20;

    @TempDir
    static Path shared;
    static Ganesha ganesha;
    static SSLContext clientTls;

    @TempDir
    Path tmp;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        TestPki.Ca ca = TestPki.ca("NFSv4.1 CA");
        TestPki.writeServer(shared.resolve("server"), ca.leaf("server").dns("localhost").issue());
        clientTls = TlsHarness.jdkClient(null, ca, "TLSv1.3");
        ganesha = Ganesha.start(shared.resolve("ganesha"), new Ganesha.Export(1, shared.resolve("export"), "/export", false));
    }

    @AfterAll
    static void stop() throws Exception {
        if (ganesha != null) {
            ganesha.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private DaemonProcess daemon(String backend, String require) throws Exception {
        List<String> a = new ArrayList<>(List.of("-d", "-D", shared.resolve("server").toString(), "--pidfile",
                tmp.resolve("pid").toString(), "--rpc-socket", tmp.resolve("rpctlssd.sock").toString(), "--no-rpcbind",
                "--listen", "127.0.0.1:0", "--backend", backend, "--require", require));
        DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), List.of("-Xmx256m"), List.of(), a.toArray(new String[0]));
        toClose.add(d);
        return d;
    }

    /** An NFSv4.1 client through the front end: probe, TLS 1.3, then the record stream. */
    private Nfs41Client client(DaemonProcess d, String name) throws IOException {
        Socket s = RawRpc.connect(d.frontEndPort);
        toClose.add(s);
        SSLSocket ssl = FrontEndHarness.startTls(s, d.frontEndPort, clientTls, t -> { });
        Nfs41Client c = new Nfs41Client(ssl.getInputStream(), ssl.getOutputStream(), name);
        toClose.add(c);
        return c;
    }

    @ParameterizedTest(name = "--require {0}")
    @ValueSource(strings = {"none", "tls"})
    void ganeshaBindsTheBackChannelToTheRelayedConnection(String require) throws Exception {
        DaemonProcess d = daemon(ganesha.address + ":" + Ganesha.NFS_PORT, require);
        Nfs41Client c = client(d, "nfs41-backchannel");
        c.nullCall(SECONDS);
        c.exchangeId("rpctlsservd-it-" + require + "-" + System.nanoTime(), SECONDS);
        Nfs41Client.Session s = c.createSession(Nfs41Client.CREATE_SESSION4_FLAG_CONN_BACK_CHAN, SECONDS);
        assertEquals(Nfs41Client.CREATE_SESSION4_FLAG_CONN_BACK_CHAN, s.flags() & Nfs41Client.CREATE_SESSION4_FLAG_CONN_BACK_CHAN,
                "ganesha did not bind the back channel to the relayed connection");

        Nfs41Client.Sequenced root = c.rootAttributes(SECONDS);
        assertEquals(0, root.compoundStatus());
        assertEquals(Nfs41Client.NF4DIR, root.rootType(), "the root is not a directory");
        assertTrue(root.rootFh().length > 0);
        int down = Nfs41Client.SEQ4_STATUS_CB_PATH_DOWN | Nfs41Client.SEQ4_STATUS_CB_PATH_DOWN_SESSION
                | Nfs41Client.SEQ4_STATUS_BACKCHANNEL_FAULT;
        assertEquals(0, root.statusFlags() & down, "ganesha sees the callback path down: flags " + root.statusFlags());

        // The same through the same daemon without a back channel: ganesha says the path is down, so the flag is watched.
        Nfs41Client bare = client(d, "nfs41-no-backchannel");
        bare.exchangeId("rpctlsservd-it-bare-" + require + "-" + System.nanoTime(), SECONDS);
        assertEquals(0, bare.createSession(0, SECONDS).flags() & Nfs41Client.CREATE_SESSION4_FLAG_CONN_BACK_CHAN);
        assertEquals(Nfs41Client.SEQ4_STATUS_CB_PATH_DOWN, bare.sequence(SECONDS) & Nfs41Client.SEQ4_STATUS_CB_PATH_DOWN);
        bare.destroy(SECONDS);

        // A later compound still works, the back channel still up; whatever ganesha called back was answered.
        assertEquals(0, c.sequence(SECONDS) & down);
        assertEquals(c.cbNulls.get() + c.cbCompounds.get(), c.repliesSent.get());
        System.out.println("ganesha's callbacks on the relayed connection (--require " + require + "): " + c.cbNulls + " CB_NULL, "
                + c.cbCompounds + " CB_COMPOUND " + c.cbOperations);
        c.destroy(SECONDS);
        assertNull(c.readerFailure());
    }

    @ParameterizedTest(name = "--require {0}")
    @ValueSource(strings = {"none", "tls"})
    void callbackCallsAndTheirRepliesCrossTheRelay(String require) throws Exception {
        CallingBackServer server = new CallingBackServer();
        toClose.add(server);
        DaemonProcess d = daemon("127.0.0.1:" + server.port(), require);
        Nfs41Client c = client(d, "nfs41-callbacks");

        // The backend answers this COMPOUND only after both callbacks' replies reached it through the front end.
        assertEquals(0, compound(c, server));
        assertEquals(1, c.cbNulls.get());
        assertEquals(1, c.cbCompounds.get());
        assertEquals(List.of(Nfs41Client.OP_CB_SEQUENCE), c.cbOperations);
        assertEquals(2, server.replies.size());
        for (Answered a : server.replies) {
            assertEquals(0, a.acceptStat, "callback " + a.proc + " not accepted");
        }
        assertArrayEquals(CallingBackServer.SESSION, server.replies.get(1).cbSequenceSession, "CB_SEQUENCE's result");
        assertEquals(0, compound(c, server), "a second COMPOUND after the callbacks");
        assertEquals(4, server.replies.size());
        assertNull(server.failure, () -> "the backend: " + server.failure);
        assertNull(c.readerFailure());
    }

    private static int compound(Nfs41Client c, CallingBackServer server) {
        try {
            return c.emptyCompound(SECONDS);
        } catch (IOException e) {
            throw new AssertionError("no answer to the COMPOUND; the backend: " + server.failure + ", it read replies " + server.replies, e);
        }
    }

    /** A callback's REPLY as the backend read it. */
    record Answered(int proc, int acceptStat, byte[] cbSequenceSession) {
    }

    /**
     * The server's side of a back channel, hand-written because no NFS server at hand calls back on a
     * v4.1 session (see the class comment): for each COMPOUND call, it calls CB_NULL and a CB_COMPOUND of
     * one CB_SEQUENCE on the same connection, reads both replies, then answers the COMPOUND with
     * NFS4_OK and no results.
     */
    static final class CallingBackServer implements Closeable {
        static final byte[] SESSION = "session-01234567".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        final List<Answered> replies = new CopyOnWriteArrayList<>();
        volatile Exception failure;
        private final ServerSocket listener;
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();
        private final Thread acceptor;
        private final java.util.concurrent.atomic.AtomicInteger nextXid = new java.util.concurrent.atomic.AtomicInteger(0x43420000);

        CallingBackServer() throws IOException {
            listener = new ServerSocket();
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            acceptor = new Thread(this::acceptLoop, "calling-back-server");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        private void acceptLoop() {
            try {
                while (true) {
                    Socket s = listener.accept();
                    accepted.add(s);
                    Thread t = new Thread(() -> serve(s), "calling-back-connection");
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException e) {
                // closed
            }
        }

        private void serve(Socket s) {
            try {
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                while (true) {
                    byte[] call = readRecord(in);
                    XdrReader r = new XdrReader(call, 0, call.length);
                    int xid = r.xdrDecodeInt();
                    if (r.xdrDecodeInt() != 0) {
                        throw new IOException("a REPLY nobody waited for");
                    }
                    r.xdrDecodeInt();
                    r.xdrDecodeInt();
                    r.xdrDecodeInt();
                    int proc = r.xdrDecodeInt();
                    r.xdrDecodeInt();
                    r.xdrDecodeDynamicOpaque();
                    r.xdrDecodeInt();
                    r.xdrDecodeDynamicOpaque();
                    byte[] tag = proc == 1 ? r.xdrDecodeDynamicOpaque() : null;
                    if (proc == 1) {
                        int cbNull = callBack(out, 0, new XdrWriter(0));
                        int cbCompound = callBack(out, 1, cbSequence());
                        awaitReplies(in, cbNull, cbCompound);
                    }
                    XdrWriter m = replyHeader(xid);
                    if (tag != null) {
                        m.xdrEncodeInt(0); // NFS4_OK
                        m.xdrEncodeInt(tag.length);
                        m.xdrEncodeOpaque(tag, 0, tag.length);
                        m.xdrEncodeInt(0); // no results
                    }
                    send(out, m);
                }
            } catch (java.io.EOFException | java.net.SocketException e) {
                // the front end closed the connection
            } catch (IOException | OncRpcException | RuntimeException e) {
                failure = e;
                try {
                    s.close(); // the client fails at once, not at its timeout
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }

        private static XdrWriter cbSequence() {
            XdrWriter a = new XdrWriter(64);
            a.xdrEncodeInt(0); // tag
            a.xdrEncodeInt(1); // minorversion
            a.xdrEncodeInt(0); // callback_ident
            a.xdrEncodeInt(1);
            a.xdrEncodeInt(Nfs41Client.OP_CB_SEQUENCE);
            a.xdrEncodeOpaque(SESSION, 0, 16);
            a.xdrEncodeInt(1); // sequenceid
            a.xdrEncodeInt(0); // slot
            a.xdrEncodeInt(0); // highest slot
            a.xdrEncodeInt(0); // cachethis
            a.xdrEncodeInt(0); // no referring calls
            return a;
        }

        private int callBack(OutputStream out, int proc, XdrWriter args) throws IOException {
            int xid = nextXid.getAndIncrement();
            XdrWriter m = new XdrWriter(args.length() + 64);
            for (int v : new int[] {xid, 0, 2, Nfs41Client.CB_PROGRAM, 1, proc, 0, 0, 0, 0}) {
                m.xdrEncodeInt(v); // header, AUTH_NONE credential and verifier
            }
            byte[] a = args.toByteArray();
            m.xdrEncodeOpaque(a, 0, a.length);
            send(out, m);
            return xid;
        }

        /** Reads the replies to {@code cbNull} and {@code cbCompound}, in whichever order they come. */
        private void awaitReplies(DataInputStream in, int cbNull, int cbCompound) throws IOException, OncRpcException {
            Answered[] got = new Answered[2];
            for (int i = 0; i < 2; i++) {
                byte[] rec = readRecord(in);
                XdrReader r = new XdrReader(rec, 0, rec.length);
                int xid = r.xdrDecodeInt();
                if (r.xdrDecodeInt() != 1 || (xid != cbNull && xid != cbCompound)) {
                    throw new IOException("not the reply to a callback: xid " + Integer.toHexString(xid));
                }
                if (r.xdrDecodeInt() != 0) {
                    throw new IOException("callback denied");
                }
                r.xdrDecodeInt();
                r.xdrDecodeDynamicOpaque();
                int accept = r.xdrDecodeInt();
                byte[] session = null;
                if (xid == cbCompound && accept == 0) {
                    int status = r.xdrDecodeInt();
                    r.xdrDecodeDynamicOpaque();
                    if (status != 0 || r.xdrDecodeInt() != 1 || r.xdrDecodeInt() != Nfs41Client.OP_CB_SEQUENCE
                            || r.xdrDecodeInt() != 0) {
                        throw new IOException("CB_COMPOUND failed: " + status);
                    }
                    session = r.xdrDecodeOpaque(16);
                }
                got[xid == cbNull ? 0 : 1] = new Answered(xid == cbNull ? 0 : 1, accept, session);
            }
            replies.addAll(List.of(got)); // CB_NULL's first, in whichever order they came
        }

        private static XdrWriter replyHeader(int xid) {
            XdrWriter m = new XdrWriter(64);
            for (int v : new int[] {xid, 1, 0, 0, 0, 0}) {
                m.xdrEncodeInt(v); // REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS
            }
            return m;
        }

        private static void send(OutputStream out, XdrWriter m) throws IOException {
            byte[] b = m.array();
            int n = m.length();
            java.nio.ByteBuffer.wrap(b, 0, 4).putInt(0x80000000 | n);
            out.write(b, 0, XdrWriter.MARK + n);
            out.flush();
        }

        private static byte[] readRecord(DataInputStream in) throws IOException {
            return org.rpctlsservd.support.RawRpc.readRecord(in);
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket s : accepted) {
                s.close();
            }
        }
    }
}
