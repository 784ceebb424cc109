package org.rpctlsservd.daemon;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.crypto.util.PrivateKeyInfoFactory;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;

/**
 * The package-time training run for the class-data archive (AppCDS): `mvn package` runs this with
 * -XX:ArchiveClassesAtExit, so the classes a serving daemon loads (the service, the TLS engine,
 * the front end) are archived, and the launcher starts the daemon with that archive. It runs a
 * daemon on a throwaway certificate with everything on loopback, makes a few RFC 9289 clients go
 * through it to a small backend, and stops it. Not for operators.
 */
public final class Training {
    private Training() {
    }

    public static void main(String[] args) throws Exception {
        Logger.getLogger("").setLevel(Level.WARNING);
        Path dir = Files.createTempDirectory("rpctlsservd-training");
        try (ServerSocket backend = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            Thread b = new Thread(() -> serve(backend), "training-backend");
            b.setDaemon(true);
            b.start();
            // A certificate and key in PEM files, read as a start reads them (--check's path, then the start
            // serving with what it read), so their classes are in the archive too, not only the throwaway's.
            ServerCredentials pair = ServerCredentials.throwaway("localhost");
            try (JcaPEMWriter w = new JcaPEMWriter(Files.newBufferedWriter(dir.resolve("cert.pem")))) {
                w.writeObject(pair.chain().get(0));
            }
            try (JcaPEMWriter w = new JcaPEMWriter(Files.newBufferedWriter(dir.resolve("certkey.pem")))) {
                w.writeObject(PrivateKeyInfoFactory.createPrivateKeyInfo(pair.privateKey()));
            }
            Config c = new Cli("rpc.tlsservd", Math.max(1, Runtime.getRuntime().availableProcessors()), "localhost", h -> null)
                    .parse(new String[] {"-d", "-D", dir.toString(), "--no-rpcbind", "--pidfile", dir.resolve("pid").toString(),
                        "--rpc-socket", dir.resolve("sock").toString(), "--listen", "127.0.0.1:0",
                        "--backend", "127.0.0.1:" + backend.getLocalPort()});
            Preflight.Checked checked = Preflight.run(c);
            try (Daemon d = Daemon.start(c, checked.tls())) {
                int port = d.frontEnd().addresses().get(0).getPort();
                SSLContext ctx = SSLContext.getInstance("TLSv1.3");
                ctx.init(null, new TrustManager[] {new TrustingManager()}, null);
                for (int i = 0; i < 20; i++) {
                    client(ctx, port, i);
                }
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** Probe, TLS 1.3, one NULL call relayed to the backend. */
    private static void client(SSLContext ctx, int port, int xid) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(call(xid, 100000, 2, 7));
            new DataInputStream(s.getInputStream()).readFully(new byte[36]);
            SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(s, "localhost", port, true);
            ssl.startHandshake();
            ssl.getOutputStream().write(call(xid, 0x20000099, 1, 0));
            readRecord(ssl.getInputStream());
        }
    }

    /** A framed NULL call with a credential of {@code flavor} and no body (7 is the STARTTLS probe's AUTH_TLS). */
    private static byte[] call(int xid, int prog, int vers, int flavor) {
        return ByteBuffer.allocate(44).putInt(0x80000000 | 40).putInt(xid).putInt(0).putInt(2).putInt(prog).putInt(vers)
                .putInt(0).putInt(flavor).putInt(0).putInt(0).putInt(0).array();
    }

    private static byte[] readRecord(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int mark = d.readInt();
        byte[] rec = new byte[mark & 0x7fffffff];
        d.readFully(rec);
        return rec;
    }

    /** Answers every call with an accepted, successful, empty reply. */
    private static void serve(ServerSocket backend) {
        while (!backend.isClosed()) {
            try (Socket s = backend.accept()) {
                OutputStream out = s.getOutputStream();
                while (true) {
                    byte[] call = readRecord(s.getInputStream());
                    out.write(ByteBuffer.allocate(28).putInt(0x80000000 | 24).put(call, 0, 4).putInt(1).putInt(0).putInt(0)
                            .putInt(0).putInt(0).array());
                }
            } catch (IOException e) {
                // the client went, or the run is over
            }
        }
    }

    /** The throwaway certificate cannot be checked; this is a training run on loopback. */
    private static final class TrustingManager implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
