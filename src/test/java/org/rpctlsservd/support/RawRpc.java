package org.rpctlsservd.support;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;

/**
 * A raw ONC-RPC client for tests: builds call messages field by field (so malformed ones too),
 * sends them on one TCP connection with record marking, and decodes replies.
 */
public final class RawRpc implements Closeable {
    public static final int RPCTLSSD = 0x40677375;

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    public RawRpc(int port) throws IOException {
        this(connect(port));
    }

    /** Over an already connected socket (plain or TLS). */
    public RawRpc(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    public static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setTcpNoDelay(true);
        return s;
    }

    /** A loopback TCP connection from a reserved source port (below 1024), as only root can make. */
    public static Socket connectFromReservedPort(int port) throws IOException {
        IOException last = null;
        for (int local = 1023; local >= 600; local--) {
            Socket s = new Socket();
            try {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress("127.0.0.1", local));
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setTcpNoDelay(true);
                return s;
            } catch (IOException e) {
                s.close();
                last = e;
            }
        }
        throw new IOException("no reserved port free", last);
    }

    /** Reads one raw record (no parsing). */
    public byte[] readRecord() throws IOException {
        return readRecord(in);
    }

    /** One record-marked record (RFC 5531 section 11) from {@code in}, its fragments joined. */
    public static byte[] readRecord(java.io.DataInputStream in) throws IOException {
        ByteArrayOutputStream rec = new ByteArrayOutputStream();
        while (true) {
            int mark = in.readInt();
            byte[] frag = new byte[mark & 0x7fffffff];
            in.readFully(frag);
            rec.write(frag);
            if (mark < 0) {
                return rec.toByteArray();
            }
        }
    }

    public Socket socket() {
        return socket;
    }

    /** A call builder; every field defaults to a valid RPCTLSSD v2 call with AUTH_NONE. */
    public static final class Call {
        int xid = 1;
        int type = 0;
        int rpcvers = 2;
        int prog = RPCTLSSD;
        int vers = 2;
        int proc = 0;
        byte[] cred = opaqueAuth(0, new byte[0]);
        byte[] verf = opaqueAuth(0, new byte[0]);
        byte[] args = new byte[0];

        public Call xid(int v) { xid = v; return this; }
        public Call type(int v) { type = v; return this; }
        public Call rpcvers(int v) { rpcvers = v; return this; }
        public Call prog(int v) { prog = v; return this; }
        public Call vers(int v) { vers = v; return this; }
        public Call proc(int v) { proc = v; return this; }
        public Call credRaw(byte[] v) { cred = v; return this; }
        public Call verfRaw(byte[] v) { verf = v; return this; }
        public Call args(byte[] v) { args = v; return this; }

        public byte[] bytes() {
            ByteBuffer b = ByteBuffer.allocate(24 + cred.length + verf.length + args.length);
            b.putInt(xid).putInt(type).putInt(rpcvers).putInt(prog).putInt(vers).putInt(proc);
            b.put(cred).put(verf).put(args);
            return b.array();
        }
    }

    public static Call call() {
        return new Call();
    }

    /** flavor, length, body, padding. */
    public static byte[] opaqueAuth(int flavor, byte[] body) {
        int padded = (body.length + 3) & ~3;
        ByteBuffer b = ByteBuffer.allocate(8 + padded);
        b.putInt(flavor).putInt(body.length).put(body);
        return b.array();
    }

    /** An AUTH_SYS body with the given gid list (count taken from {@code gidCount}). */
    public static byte[] authSysBody(String machine, int uid, int gid, int gidCount, int[] gids) {
        byte[] m = machine.getBytes();
        int padded = (m.length + 3) & ~3;
        ByteBuffer b = ByteBuffer.allocate(4 + 4 + padded + 12 + 4 * gids.length);
        b.putInt(0).putInt(m.length).put(m).position(8 + padded);
        b.putInt(uid).putInt(gid).putInt(gidCount);
        for (int g : gids) {
            b.putInt(g);
        }
        return b.array();
    }

    public static byte[] hyper(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    public void send(byte[] message) throws IOException {
        sendRecord(message, true);
    }

    public void sendRecord(byte[] message, boolean last) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 + message.length);
        b.putInt((last ? 0x80000000 : 0) | message.length).put(message);
        out.write(b.array());
        out.flush();
    }

    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads one whole reply record. */
    public Reply read() throws IOException {
        return Reply.parse(readRecord());
    }

    /** True when the server closed the connection (EOF or reset) within the socket timeout. */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** A decoded reply message. */
    public static final class Reply {
        public int xid;
        public int type;
        public int replyStat;
        /** MSG_ACCEPTED: the accept_stat; MSG_DENIED: the reject_stat. */
        public int stat;
        public int verfFlavor;
        public byte[] verfBody;
        public int low;
        public int high;
        public int authStat;
        /** SUCCESS: the result bytes. */
        public ByteBuffer result;

        public static Reply parse(byte[] bytes) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            Reply r = new Reply();
            r.xid = b.getInt();
            r.type = b.getInt();
            r.replyStat = b.getInt();
            if (r.replyStat == 0) {
                r.verfFlavor = b.getInt();
                r.verfBody = new byte[b.getInt()];
                b.get(r.verfBody);
                b.position((b.position() + 3) & ~3);
                r.stat = b.getInt();
                if (r.stat == 2) {
                    r.low = b.getInt();
                    r.high = b.getInt();
                }
                r.result = b.slice();
            } else {
                r.stat = b.getInt();
                if (r.stat == 0) {
                    r.low = b.getInt();
                    r.high = b.getInt();
                } else {
                    r.authStat = b.getInt();
                }
            }
            return r;
        }

        @Override
        public String toString() {
            return "xid=" + xid + " reply_stat=" + replyStat + " stat=" + stat + " low=" + low + " high=" + high
                    + " auth_stat=" + authStat;
        }
    }
}
