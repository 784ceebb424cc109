package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.daemon.Daemon;

/** A daemon with its front end relaying to a backend, and RPC clients that speak RFC 9289. */
public final class FrontEndHarness implements Closeable {
    public final Daemon daemon;
    public final int port;
    /** The daemon's whole command line, for parsing it again (a reload of --config). */
    public final List<String> args;
    private final List<Closeable> clients = new ArrayList<>();
    private final Map<RawRpc, Socket> rawSockets = new HashMap<>();

    public FrontEndHarness(Path dir, TestPki.Issued server, int backendPort, String... args) throws Exception {
        TestPki.writeServer(dir.resolve("server"), server);
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-D", dir.resolve("server").toString(), "--pidfile", dir.resolve("pid").toString(), "--no-rpcbind",
                "--rpc-socket", dir.resolve("rpctlssd.sock").toString(),
                "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:" + backendPort));
        Config c = new Cli("rpc.tlsservd", Math.max(2, Runtime.getRuntime().availableProcessors()), "nfs.example.org", h -> null)
                .parse(all.toArray(new String[0]));
        daemon = Daemon.start(c);
        port = daemon.frontEnd().addresses().get(0).getPort();
        this.args = List.copyOf(all);
    }

    /** The STARTTLS probe: NULL with an AUTH_TLS credential of length 0 and an AUTH_NONE verifier. */
    public static byte[] probe(int xid) {
        return RawRpc.call().xid(xid).proc(0).prog(100000).vers(2).credRaw(RawRpc.opaqueAuth(7, new byte[0])).bytes();
    }

    /** The RFC 9289 client's start on {@code s} (connected to the front end at {@code port}): probe, then TLS; its record stream. */
    public static RawRpc startTls(Socket s, int port, SSLContext tls) throws IOException {
        RawRpc plain = new RawRpc(s);
        plain.send(probe(1));
        plain.readRecord();
        SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(s, "localhost", port, true);
        ssl.setSoTimeout(20_000);
        ssl.startHandshake();
        return new RawRpc(ssl);
    }

    /** {@code n} framed calls that the front end answers itself (AUTH_TLS on a procedure other than NULL: AUTH_BADCRED). */
    public static byte[] badProbes(int n) {
        ByteBuffer batch = ByteBuffer.allocate(n * 48);
        for (int i = 0; i < n; i++) {
            byte[] bad = RawRpc.call().xid(i).prog(100000).vers(2).proc(1).credRaw(RawRpc.opaqueAuth(7, new byte[0])).bytes();
            batch.putInt(0x80000000 | bad.length).put(bad);
        }
        return java.util.Arrays.copyOf(batch.array(), batch.position());
    }

    /** A client with a tiny receive buffer, for attacks that never read: the front end's queue fills at once. */
    public static Socket nonReading(int port) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5000);
        return s;
    }

    public RawRpc plain() throws IOException {
        RawRpc r = new RawRpc(RawRpc.connect(port));
        clients.add(r);
        return r;
    }

    /** A client after its probe and TLS handshake. */
    public RawRpc tls(SSLContext ctx, String... alpn) throws IOException {
        return tls(ctx, ssl -> {
            if (alpn.length > 0) {
                SSLParameters p = ssl.getSSLParameters();
                p.setApplicationProtocols(alpn);
                ssl.setSSLParameters(p);
            }
        });
    }

    /** A client after its probe and TLS handshake, its socket set up by {@code setup} first. */
    public RawRpc tls(SSLContext ctx, Consumer<SSLSocket> setup) throws IOException {
        Socket s = RawRpc.connect(port);
        SSLSocket ssl = startTls(s, port, ctx, setup);
        RawRpc r = new RawRpc(ssl);
        clients.add(r);
        rawSockets.put(r, s);
        return r;
    }

    /**
     * RFC 9289 on a connected socket: the STARTTLS probe in clear text, its reply checked, then the TLS
     * handshake, the socket set up by {@code setup} first.
     */
    public static SSLSocket startTls(Socket s, int port, SSLContext ctx, Consumer<SSLSocket> setup) throws IOException {
        byte[] p = probe(0x5157);
        s.getOutputStream().write(ByteBuffer.allocate(4 + p.length).putInt(0x80000000 | p.length).put(p).array());
        byte[] reply = new byte[4 + 32];
        new java.io.DataInputStream(s.getInputStream()).readFully(reply);
        ByteBuffer b = ByteBuffer.wrap(reply, 4, 32);
        if (b.getInt() != 0x5157 || b.getInt() != 1 || b.getInt() != 0 || b.getInt() != 0 || b.getInt() != 8) {
            throw new IOException("not a STARTTLS reply");
        }
        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(s, "localhost", port, true);
        setup.accept(ssl);
        ssl.startHandshake();
        return ssl;
    }

    /** The TCP socket under a client's TLS layer, for writing what no TLS implementation would. */
    public Socket rawSocketOf(RawRpc tlsClient) {
        return rawSockets.get(tlsClient);
    }

    /** WHOAMI to the echo backend with the given credential. */
    public static RawRpc.Call whoami(int xid, byte[] cred) {
        return RawRpc.call().xid(xid).prog(EchoBackend.PROGRAM).vers(1).proc(EchoBackend.WHOAMI).credRaw(cred);
    }

    public static byte[] authSys(int uid, int gid, int... gids) {
        return RawRpc.opaqueAuth(1, RawRpc.authSysBody("client.example.org", uid, gid, gids.length, gids));
    }

    public static byte[] authNone() {
        return RawRpc.opaqueAuth(0, new byte[0]);
    }

    @Override
    public void close() throws IOException {
        daemon.close();
        for (Closeable c : clients) {
            try {
                c.close();
            } catch (IOException ignored) {
                // best effort
            }
        }
    }
}
