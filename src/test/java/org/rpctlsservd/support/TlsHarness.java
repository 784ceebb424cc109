package org.rpctlsservd.support;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.acplt.oncrpc.OncRpcProtocols;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.daemon.Daemon;
import org.rpctlsservd.rpc.gen.rpctlssdClient;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_arg;
import org.rpctlsservd.rpc.gen.rpctlssd_connect_res;

/**
 * A daemon with its TLS engine, plus the kernel's part played by the test: accept a TCP client,
 * park its socket, make the CONNECT upcall, while a real TLS client does its handshake.
 */
public final class TlsHarness implements Closeable {
    public final Path dir;
    public final TestPki.Ca ca;
    public final TestPki.Issued server;
    public final Daemon daemon;
    private final ServerSocketChannel listener;
    private final rpctlssdClient rpc;
    private final List<Closeable> toClose = new ArrayList<>();

    /** {@code args}: rpc.tlsservd options; -D, --pidfile, --no-rpcbind, --rpc-socket and --rpc-insecure (the test calls over TCP) are added. */
    public TlsHarness(Path dir, TestPki.Ca ca, TestPki.Issued server, String... args) throws Exception {
        this.dir = dir;
        this.ca = ca;
        this.server = server;
        TestPki.writeServer(dir.resolve("server"), server);
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-D", dir.resolve("server").toString(), "--pidfile", dir.resolve("pid").toString(), "--no-rpcbind",
                "--rpc-socket", dir.resolve("rpctlssd.sock").toString(), "--rpc-insecure"));
        Config c = new Cli("rpc.tlsservd", Math.max(2, Runtime.getRuntime().availableProcessors()), "nfs.example.org", h -> null)
                .parse(all.toArray(new String[0]));
        daemon = Daemon.start(c);
        listener = ServerSocketChannel.open();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        rpc = new rpctlssdClient(InetAddress.getLoopbackAddress(), daemon.port(), OncRpcProtocols.ONCRPC_TCP);
        rpc.getClient().setTimeout(30_000);
    }

    public int listenPort() {
        return ((InetSocketAddress) listenerAddress()).getPort();
    }

    private java.net.SocketAddress listenerAddress() {
        try {
            return listener.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Accepts one TCP client and parks its socket; returns the cookie. */
    public long acceptAndPark() throws IOException {
        SocketChannel sc = listener.accept();
        return daemon.handoff().park(sc);
    }

    public rpctlssd_connect_res connect(long cookie) throws Exception {
        rpctlssd_connect_arg a = new rpctlssd_connect_arg();
        a.socookie = cookie;
        synchronized (rpc) {
            return rpc.RPCTLSSD_CONNECT_2(a);
        }
    }

    public rpctlssdClient rpc() {
        return rpc;
    }

    /** What one client's attempt gave: the CONNECT result (or its error) and the client's socket (or its error). */
    public record Attempt(rpctlssd_connect_res result, Exception rpcError, SSLSocket socket, Exception clientError, long cookie) {
        public int flags() {
            if (result == null) {
                throw new AssertionError("CONNECT failed: " + rpcError + "; client: " + clientError);
            }
            return result.flags;
        }
    }

    /** One TLS client connects and handshakes while the test makes the CONNECT upcall. */
    public Attempt attempt(SSLContext clientContext, SSLParameters params) throws Exception {
        CompletableFuture<SSLSocket> client = CompletableFuture.supplyAsync(() -> {
            try {
                Socket s = new Socket();
                s.connect(listenerAddress(), 5000);
                s.setSoTimeout(20_000);
                SSLSocket ssl = (SSLSocket) clientContext.getSocketFactory().createSocket(s, "localhost", listenPort(), true);
                if (params != null) {
                    ssl.setSSLParameters(params);
                }
                ssl.startHandshake();
                return ssl;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long cookie = acceptAndPark();
        rpctlssd_connect_res res = null;
        Exception rpcError = null;
        try {
            res = connect(cookie);
        } catch (Exception e) {
            rpcError = e;
        }
        SSLSocket socket = null;
        Exception clientError = null;
        try {
            socket = client.get(30, TimeUnit.SECONDS);
            toClose.add(socket);
        } catch (ExecutionException e) {
            clientError = (Exception) e.getCause();
        }
        return new Attempt(res, rpcError, socket, clientError, cookie);
    }

    public Attempt attempt(SSLContext clientContext) throws Exception {
        return attempt(clientContext, null);
    }

    /** A JDK client trusting {@code trusted}, presenting {@code cert} (or none), TLS 1.3 unless told. */
    public static SSLContext jdkClient(TestPki.Issued cert, TestPki.Ca trusted, String protocol) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(trusted.cert()));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance(protocol);
        ctx.init(cert == null ? new KeyManager[0] : new KeyManager[] {new FixedKeyManager(cert)}, tmf.getTrustManagers(), null);
        return ctx;
    }

    /**
     * A Bouncy Castle JSSE client (on the BC provider, which has ML-KEM) trusting {@code trusted},
     * TLS 1.3, offering the key-exchange groups {@code groups} (colon-separated, in order; the
     * first is the one it sends a key share for).
     */
    public static SSLContext bcClient(TestPki.Ca trusted, String groups) throws Exception {
        System.setProperty("jdk.tls.namedGroups", groups.replace(':', ',')); // read when the context is made
        java.security.Provider jsse = new org.bouncycastle.jsse.provider.BouncyCastleJsseProvider(
                new org.bouncycastle.jce.provider.BouncyCastleProvider());
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(trusted.cert()));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX", jsse);
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3", jsse);
        ctx.init(new KeyManager[0], tmf.getTrustManagers(), null);
        return ctx;
    }

    public static SSLParameters alpn(String... protocols) {
        SSLParameters p = new SSLParameters();
        p.setApplicationProtocols(protocols);
        return p;
    }

    /** Always presents its one certificate, whatever CAs the server names (to test bad ones too). */
    static final class FixedKeyManager extends X509ExtendedKeyManager {
        private final TestPki.Issued cert;

        FixedKeyManager(TestPki.Issued cert) {
            this.cert = cert;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return new String[] {"me"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return "me";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return "me";
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return cert.jcaChain();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return cert.privateKey();
        }
    }

    public Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Override
    public void close() throws IOException {
        // The daemon first: its sessions end, so a client's close does not wait for a close_notify.
        daemon.close();
        for (Closeable c : toClose) {
            try {
                c.close();
            } catch (IOException ignored) {
                // best effort
            }
        }
        try {
            rpc.close();
        } catch (Exception ignored) {
            // best effort
        }
        listener.close();
    }
}
