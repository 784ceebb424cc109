package org.rpctlsservd.support;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.acplt.oncrpc.OncRpcException;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.rpc.XdrWriter;

/**
 * A small NFSv4.1 client (RFC 8881) over one record-marked stream (RFC 5531), for tests: NULL,
 * EXCHANGE_ID, CREATE_SESSION with the back channel on this connection, and SEQUENCE compounds on the
 * fore channel; it answers the server's callback CALL records that arrive on the same stream (CB_NULL,
 * CB_COMPOUND) and counts them. Hand-written because neither libnfs 4.0 nor Remote Tea speaks NFSv4.1,
 * and a test needs to see the records of both directions.
 */
public final class Nfs41Client implements Closeable {
    public static final int NFS_PROGRAM = 100003;
    public static final int CB_PROGRAM = 0x40000000;

    // Operation numbers (RFC 8881 section 16 and 20).
    static final int OP_GETATTR = 9;
    static final int OP_GETFH = 10;
    static final int OP_PUTROOTFH = 24;
    static final int OP_EXCHANGE_ID = 42;
    static final int OP_CREATE_SESSION = 43;
    static final int OP_DESTROY_SESSION = 44;
    static final int OP_SEQUENCE = 53;
    static final int OP_DESTROY_CLIENTID = 57;
    static final int OP_RECLAIM_COMPLETE = 58;
    public static final int OP_CB_RECALL = 4;
    public static final int OP_CB_RECALL_ANY = 8;
    public static final int OP_CB_SEQUENCE = 11;
    static final int OP_CB_ILLEGAL = 10044;

    public static final int CREATE_SESSION4_FLAG_CONN_BACK_CHAN = 0x2;
    public static final int SEQ4_STATUS_CB_PATH_DOWN = 0x1;
    public static final int SEQ4_STATUS_CB_PATH_DOWN_SESSION = 0x200;
    public static final int SEQ4_STATUS_BACKCHANNEL_FAULT = 0x400;
    public static final int NF4DIR = 2;
    static final int NFS4_OK = 0;
    static final int NFS4ERR_NOTSUPP = 10004;
    static final int NFS4ERR_OP_ILLEGAL = 10044;
    static final int NFS4ERR_BADXDR = 10036;
    static final int AUTH_SYS = 1;

    private final DataInputStream in;
    private final OutputStream out;
    private final String machine;
    private final Map<Integer, CompletableFuture<byte[]>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger nextXid = new AtomicInteger(0x4e460000);
    private final Thread reader;
    private volatile IOException readerFailure;
    private volatile boolean closing;

    /** Callbacks answered so far: CB_NULL calls, CB_COMPOUND calls, and the operations of the compounds in order. */
    public final AtomicInteger cbNulls = new AtomicInteger();
    public final AtomicInteger cbCompounds = new AtomicInteger();
    public final List<Integer> cbOperations = Collections.synchronizedList(new ArrayList<>());
    /** REPLY records this client wrote (one per callback CALL it read). */
    public final AtomicInteger repliesSent = new AtomicInteger();

    private long clientId;
    private int sequenceId;
    private byte[] sessionId;
    private int slotSequence;

    public Nfs41Client(InputStream in, OutputStream out, String machine) {
        this.in = new DataInputStream(in);
        this.out = out;
        this.machine = machine;
        reader = new Thread(this::readLoop, "nfs41-client-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /** What EXCHANGE_ID answered. */
    public record ExchangeId(long clientId, int sequenceId, int flags) {
    }

    /** What CREATE_SESSION answered: the session, its flags (CONN_BACK_CHAN granted or not). */
    public record Session(byte[] sessionId, int flags) {
    }

    /** SEQUENCE's sr_status_flags and the results of the operations after it. */
    public record Sequenced(int statusFlags, int compoundStatus, int rootType, byte[] rootFh) {
    }

    /** The NFSv4 NULL procedure. */
    public void nullCall(int seconds) throws IOException {
        call(0, new XdrWriter(0), seconds);
    }

    /** EXCHANGE_ID alone in a compound, with {@code owner} as the client owner and SP4_NONE. */
    public ExchangeId exchangeId(String owner, int seconds) throws IOException {
        XdrWriter a = compound("exchange_id", 1);
        a.xdrEncodeInt(OP_EXCHANGE_ID);
        a.xdrEncodeOpaque(new byte[8], 0, 8); // co_verifier: a fixed boot verifier
        opaque(a, owner.getBytes(StandardCharsets.UTF_8));
        a.xdrEncodeInt(0); // eia_flags
        a.xdrEncodeInt(0); // SP4_NONE
        a.xdrEncodeInt(0); // no eia_client_impl_id
        XdrReader r = compoundResult(call(1, a, seconds), OP_EXCHANGE_ID);
        try {
            clientId = r.xdrDecodeLong();
            sequenceId = r.xdrDecodeInt();
            return new ExchangeId(clientId, sequenceId, r.xdrDecodeInt());
        } catch (OncRpcException e) {
            throw new IOException("bad EXCHANGE_ID result", e);
        }
    }

    /**
     * CREATE_SESSION for the client EXCHANGE_ID made, with {@code flags} (CONN_BACK_CHAN to bind the back
     * channel to this connection), {@link #CB_PROGRAM} and AUTH_SYS (uid 0) for callbacks.
     */
    public Session createSession(int flags, int seconds) throws IOException {
        XdrWriter a = compound("create_session", 1);
        a.xdrEncodeInt(OP_CREATE_SESSION);
        hyper(a, clientId);
        a.xdrEncodeInt(sequenceId);
        a.xdrEncodeInt(flags);
        channelAttrs(a, 1 << 20, 16, 8); // fore channel
        channelAttrs(a, 16 << 10, 4, 1); // back channel: one slot, CB_SEQUENCE plus a few operations
        a.xdrEncodeInt(CB_PROGRAM);
        a.xdrEncodeInt(1); // one callback_sec_parms4
        a.xdrEncodeInt(AUTH_SYS);
        authSysBody(a);
        XdrReader r = compoundResult(call(1, a, seconds), OP_CREATE_SESSION);
        try {
            sessionId = r.xdrDecodeOpaque(16);
            r.xdrDecodeInt(); // csr_sequence
            int granted = r.xdrDecodeInt();
            slotSequence = 1;
            return new Session(sessionId.clone(), granted);
        } catch (OncRpcException e) {
            throw new IOException("bad CREATE_SESSION result", e);
        }
    }

    /** SEQUENCE on slot 0, then PUTROOTFH, GETFH and GETATTR(type): the fore channel at work. */
    public Sequenced rootAttributes(int seconds) throws IOException {
        XdrWriter a = compound("root", 4);
        sequenceArgs(a);
        a.xdrEncodeInt(OP_PUTROOTFH);
        a.xdrEncodeInt(OP_GETFH);
        a.xdrEncodeInt(OP_GETATTR);
        a.xdrEncodeInt(1); // bitmap4 of one word
        a.xdrEncodeInt(1 << 1); // FATTR4_TYPE
        XdrReader r = reader(call(1, a, seconds));
        try {
            int status = r.xdrDecodeInt();
            r.xdrDecodeDynamicOpaque(); // tag
            int n = r.xdrDecodeInt();
            int flags = sequenceResult(r);
            if (n < 4 || status != NFS4_OK) {
                return new Sequenced(flags, status, -1, null);
            }
            opStatus(r, OP_PUTROOTFH);
            opStatus(r, OP_GETFH);
            byte[] fh = r.xdrDecodeDynamicOpaque();
            opStatus(r, OP_GETATTR);
            int words = r.xdrDecodeInt();
            for (int i = 0; i < words; i++) {
                r.xdrDecodeInt();
            }
            XdrReader vals = reader(r.xdrDecodeDynamicOpaque());
            return new Sequenced(flags, status, vals.xdrDecodeInt(), fh);
        } catch (OncRpcException e) {
            throw new IOException("bad compound result", e);
        }
    }

    /** A COMPOUND of no operations (legal outside a session, RFC 8881 section 2.10.6.4): its status. */
    public int emptyCompound(int seconds) throws IOException {
        XdrReader r = reader(call(1, compound("empty", 0), seconds));
        try {
            return r.xdrDecodeInt();
        } catch (OncRpcException e) {
            throw new IOException("bad COMPOUND result", e);
        }
    }

    /** SEQUENCE alone (a lease renewal): its sr_status_flags. */
    public int sequence(int seconds) throws IOException {
        XdrWriter a = compound("renew", 1);
        sequenceArgs(a);
        XdrReader r = reader(call(1, a, seconds));
        try {
            int status = r.xdrDecodeInt();
            r.xdrDecodeDynamicOpaque();
            r.xdrDecodeInt();
            int flags = sequenceResult(r);
            if (status != NFS4_OK) {
                throw new IOException("SEQUENCE compound failed: " + status);
            }
            return flags;
        } catch (OncRpcException e) {
            throw new IOException("bad SEQUENCE result", e);
        }
    }

    /** DESTROY_SESSION then DESTROY_CLIENTID, so the server keeps no state of the test. */
    public void destroy(int seconds) throws IOException {
        XdrWriter a = compound("destroy_session", 1);
        a.xdrEncodeInt(OP_DESTROY_SESSION);
        a.xdrEncodeOpaque(sessionId, 0, 16);
        compoundResult(call(1, a, seconds), OP_DESTROY_SESSION);
        XdrWriter b = compound("destroy_clientid", 1);
        b.xdrEncodeInt(OP_DESTROY_CLIENTID);
        hyper(b, clientId);
        compoundResult(call(1, b, seconds), OP_DESTROY_CLIENTID);
    }

    /** The reader's failure, or null while it runs or after a clean end of stream. */
    public IOException readerFailure() {
        return readerFailure;
    }

    @Override
    public void close() throws IOException {
        closing = true;
        out.close();
        in.close();
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- fore channel

    private XdrWriter compound(String tag, int ops) {
        XdrWriter a = new XdrWriter(256);
        string(a, tag);
        a.xdrEncodeInt(1); // minorversion
        a.xdrEncodeInt(ops);
        return a;
    }

    private void sequenceArgs(XdrWriter a) {
        a.xdrEncodeInt(OP_SEQUENCE);
        a.xdrEncodeOpaque(sessionId, 0, 16);
        a.xdrEncodeInt(slotSequence++);
        a.xdrEncodeInt(0); // slot
        a.xdrEncodeInt(0); // highest slot
        a.xdrEncodeInt(0); // sa_cachethis
    }

    /** SEQUENCE's result at {@code r}: its sr_status_flags; fails unless it is NFS4_OK. */
    private static int sequenceResult(XdrReader r) throws OncRpcException, IOException {
        opStatus(r, OP_SEQUENCE);
        r.xdrDecodeOpaque(16);
        for (int i = 0; i < 4; i++) {
            r.xdrDecodeInt(); // sequenceid, slotid, highest, target highest
        }
        return r.xdrDecodeInt();
    }

    private static void channelAttrs(XdrWriter a, int size, int ops, int requests) {
        a.xdrEncodeInt(0); // ca_headerpadsize
        a.xdrEncodeInt(size); // ca_maxrequestsize
        a.xdrEncodeInt(size); // ca_maxresponsesize
        a.xdrEncodeInt(4096); // ca_maxresponsesize_cached
        a.xdrEncodeInt(ops);
        a.xdrEncodeInt(requests);
        a.xdrEncodeInt(0); // no ca_rdma_ird
    }

    private void authSysBody(XdrWriter w) {
        w.xdrEncodeInt(0); // stamp
        string(w, machine);
        w.xdrEncodeInt(0); // uid
        w.xdrEncodeInt(0); // gid
        w.xdrEncodeInt(0); // no supplementary groups
    }

    /** The single operation's result body, after checking the compound's and the operation's status. */
    private static XdrReader compoundResult(byte[] res, int op) throws IOException {
        XdrReader r = reader(res);
        try {
            int status = r.xdrDecodeInt();
            r.xdrDecodeDynamicOpaque();
            if (r.xdrDecodeInt() != 1) {
                throw new IOException("op " + op + ": not one result (status " + status + ")");
            }
            opStatus(r, op);
            return r;
        } catch (OncRpcException e) {
            throw new IOException("bad result of op " + op, e);
        }
    }

    private static void opStatus(XdrReader r, int op) throws OncRpcException, IOException {
        int got = r.xdrDecodeInt();
        int status = r.xdrDecodeInt();
        if (got != op || status != NFS4_OK) {
            throw new IOException("op " + op + ": got op " + got + " with status " + status);
        }
    }

    private static void string(XdrWriter w, String s) {
        opaque(w, s.getBytes(StandardCharsets.UTF_8));
    }

    private static void opaque(XdrWriter w, byte[] b) {
        w.xdrEncodeInt(b.length);
        w.xdrEncodeOpaque(b, 0, b.length);
    }

    private static void hyper(XdrWriter w, long v) {
        w.xdrEncodeInt((int) (v >>> 32));
        w.xdrEncodeInt((int) v);
    }

    private static XdrReader reader(byte[] b) {
        return new XdrReader(b, 0, b.length);
    }

    /** One RPC call of NFS v4 on this stream; the accepted reply's results. */
    private byte[] call(int proc, XdrWriter args, int seconds) throws IOException {
        int xid = nextXid.incrementAndGet();
        XdrWriter m = new XdrWriter(args.length() + 128);
        m.xdrEncodeInt(xid);
        m.xdrEncodeInt(0); // CALL
        m.xdrEncodeInt(2);
        m.xdrEncodeInt(NFS_PROGRAM);
        m.xdrEncodeInt(4);
        m.xdrEncodeInt(proc);
        XdrWriter cred = new XdrWriter(64);
        authSysBody(cred);
        m.xdrEncodeInt(AUTH_SYS);
        opaque(m, cred.toByteArray());
        m.xdrEncodeInt(0); // AUTH_NONE verifier
        m.xdrEncodeInt(0);
        byte[] a = args.toByteArray();
        m.xdrEncodeOpaque(a, 0, a.length);
        CompletableFuture<byte[]> reply = new CompletableFuture<>();
        pending.put(xid, reply);
        write(m);
        byte[] rec;
        try {
            rec = reply.get(seconds, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new IOException("no reply to xid " + Integer.toHexString(xid) + " within " + seconds + " s", e);
        } catch (ExecutionException e) {
            throw new IOException("connection failed before the reply", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pending.remove(xid);
        }
        XdrReader r = reader(rec);
        try {
            r.xdrDecodeInt(); // xid
            r.xdrDecodeInt(); // REPLY
            int replyStat = r.xdrDecodeInt();
            if (replyStat != 0) {
                throw new IOException("call denied: reject_stat " + r.xdrDecodeInt() + ", then " + r.xdrDecodeInt());
            }
            r.xdrDecodeInt(); // verifier flavor
            r.xdrDecodeDynamicOpaque();
            int accept = r.xdrDecodeInt();
            if (accept != 0) {
                throw new IOException("call not accepted: accept_stat " + accept);
            }
            return java.util.Arrays.copyOfRange(rec, r.position(), rec.length);
        } catch (OncRpcException e) {
            throw new IOException("bad reply", e);
        }
    }

    /** One whole record, marked as the last fragment; writes from the caller and the reader do not interleave. */
    private synchronized void write(XdrWriter m) throws IOException {
        byte[] b = m.array();
        int n = m.length();
        b[0] = (byte) (0x80 | (n >>> 24));
        b[1] = (byte) (n >>> 16);
        b[2] = (byte) (n >>> 8);
        b[3] = (byte) n;
        out.write(b, 0, XdrWriter.MARK + n);
        out.flush();
    }

    // ---- reading, and the back channel

    private byte[] readRecord() throws IOException {
        ByteArrayOutputStream rec = new ByteArrayOutputStream();
        while (true) {
            int mark = in.readInt();
            int len = mark & 0x7fffffff;
            if (len > (4 << 20) || rec.size() + len > (4 << 20)) {
                throw new IOException("record over 4 MiB");
            }
            byte[] frag = new byte[len];
            in.readFully(frag);
            rec.write(frag);
            if (mark < 0) {
                return rec.toByteArray();
            }
        }
    }

    private void readLoop() {
        try {
            while (true) {
                byte[] rec = readRecord();
                XdrReader r = reader(rec);
                int xid = r.xdrDecodeInt();
                int type = r.xdrDecodeInt();
                if (type == 1) {
                    CompletableFuture<byte[]> f = pending.get(xid);
                    if (f != null) {
                        f.complete(rec);
                    }
                } else if (type == 0) {
                    answerCallback(xid, r);
                }
            }
        } catch (EOFException e) {
            failPending(e);
        } catch (IOException e) {
            if (!closing) {
                readerFailure = e;
            }
            failPending(e);
        } catch (OncRpcException | RuntimeException e) {
            readerFailure = new IOException("unreadable record", e);
            failPending(readerFailure);
        }
    }

    private void failPending(IOException e) {
        for (CompletableFuture<byte[]> f : pending.values()) {
            f.completeExceptionally(e);
        }
    }

    /** A CALL from the server: CB_NULL or CB_COMPOUND of {@link #CB_PROGRAM} v1 answered, anything else refused. */
    private void answerCallback(int xid, XdrReader r) throws OncRpcException, IOException {
        r.xdrDecodeInt(); // rpcvers
        int prog = r.xdrDecodeInt();
        int vers = r.xdrDecodeInt();
        int proc = r.xdrDecodeInt();
        r.xdrDecodeInt();
        r.xdrDecodeDynamicOpaque(); // credential: AUTH_SYS as CREATE_SESSION offered, not checked
        r.xdrDecodeInt();
        r.xdrDecodeDynamicOpaque();
        XdrWriter m = new XdrWriter(256);
        m.xdrEncodeInt(xid);
        m.xdrEncodeInt(1); // REPLY
        m.xdrEncodeInt(0); // MSG_ACCEPTED
        m.xdrEncodeInt(0); // AUTH_NONE verifier
        m.xdrEncodeInt(0);
        if (prog != CB_PROGRAM || vers != 1) {
            m.xdrEncodeInt(1); // PROG_UNAVAIL
        } else if (proc == 0) {
            m.xdrEncodeInt(0); // SUCCESS, no results
            cbNulls.incrementAndGet();
        } else if (proc == 1) {
            m.xdrEncodeInt(0);
            cbCompound(r, m);
            cbCompounds.incrementAndGet();
        } else {
            m.xdrEncodeInt(3); // PROC_UNAVAIL
        }
        write(m);
        repliesSent.incrementAndGet();
    }

    /**
     * CB_COMPOUND4res for the arguments at {@code r}: CB_SEQUENCE answered from its own arguments,
     * CB_RECALL and CB_RECALL_ANY acknowledged (a test client keeps nothing to return), and the first
     * other operation ends the compound with NFS4ERR_NOTSUPP, as its arguments cannot be skipped unknown.
     */
    private void cbCompound(XdrReader r, XdrWriter m) throws OncRpcException, IOException {
        byte[] tag = r.xdrDecodeDynamicOpaque();
        r.xdrDecodeInt(); // minorversion
        r.xdrDecodeInt(); // callback_ident
        int n = r.xdrDecodeInt();
        XdrWriter res = new XdrWriter(128);
        int done = 0;
        int status = NFS4_OK;
        for (int i = 0; i < n && status == NFS4_OK; i++) {
            int op = r.xdrDecodeInt();
            cbOperations.add(op);
            done++;
            switch (op) {
                case OP_CB_SEQUENCE -> {
                    byte[] session = r.xdrDecodeOpaque(16);
                    int seq = r.xdrDecodeInt();
                    int slot = r.xdrDecodeInt();
                    int highest = r.xdrDecodeInt();
                    r.xdrDecodeBoolean(); // cachethis
                    int lists = r.xdrDecodeInt();
                    for (int l = 0; l < lists; l++) {
                        r.xdrDecodeOpaque(16);
                        int calls = r.xdrDecodeInt();
                        for (int c = 0; c < calls; c++) {
                            r.xdrDecodeInt();
                            r.xdrDecodeInt();
                        }
                    }
                    res.xdrEncodeInt(op);
                    res.xdrEncodeInt(NFS4_OK);
                    res.xdrEncodeOpaque(session, 0, 16);
                    res.xdrEncodeInt(seq);
                    res.xdrEncodeInt(slot);
                    res.xdrEncodeInt(highest);
                    res.xdrEncodeInt(highest); // target highest slot
                }
                case OP_CB_RECALL -> {
                    r.xdrDecodeOpaque(16); // stateid4
                    r.xdrDecodeBoolean(); // truncate
                    r.xdrDecodeDynamicOpaque(); // fh
                    res.xdrEncodeInt(op);
                    res.xdrEncodeInt(NFS4_OK);
                }
                case OP_CB_RECALL_ANY -> {
                    r.xdrDecodeInt(); // objects to keep
                    int words = r.xdrDecodeInt();
                    for (int w = 0; w < words; w++) {
                        r.xdrDecodeInt();
                    }
                    res.xdrEncodeInt(op);
                    res.xdrEncodeInt(NFS4_OK);
                }
                default -> {
                    boolean known = op >= 3 && op <= 14;
                    status = known ? NFS4ERR_NOTSUPP : NFS4ERR_OP_ILLEGAL;
                    res.xdrEncodeInt(known ? op : OP_CB_ILLEGAL);
                    res.xdrEncodeInt(status);
                }
            }
        }
        m.xdrEncodeInt(status);
        opaque(m, tag);
        m.xdrEncodeInt(done);
        byte[] b = res.toByteArray();
        m.xdrEncodeOpaque(b, 0, b.length);
    }
}
