package org.rpctlsservd.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.Ganesha;
import org.rpctlsservd.support.Libnfs;
import org.rpctlsservd.support.PeerPki;
import org.rpctlsservd.support.TestDaemons;
import org.rpctlsservd.support.TestPki;

/**
 * NFS end to end with real parts: libnfs (nfs-ls, nfs-cat, nfs-cp) as the client, which knows no
 * RFC 9289, through the connector (rpc.tlsclntd, a process) doing its part, the daemon as an
 * administrator runs it (the packaged jar, so a failsafe test), and Debian's nfs-ganesha behind it
 * in a network namespace of its own
 * ({@link Ganesha}, started once for the class). Two exports: {@code /export} for anyone and
 * {@code /priv} with {@code PrivilegedPort = true}.
 */
class NfsGatewayIT {
    static final int OPEN = 1;
    static final int PRIV = 2;
    /** The file ganesha serves from the start in each export, and its content. */
    static final String MARKER = "readme.txt";
    static final String MARKER_TEXT = "served by nfs-ganesha behind rpc.tlsservd\n";
    /** An audit line of a TLS session with ALPN, the first group its flags. */
    static final Pattern AUDIT = Pattern.compile("handshake peer=\\S+ .*result=ok .*alpn=sunrpc.* flags=(0x[0-9a-f]+)");

    @TempDir
    static Path shared;
    static Ganesha ganesha;
    static TestPki.Ca ca;
    static Path caFile;
    /** rpc.tlsclntd's -D: empty (no client certificate), and one with cert.pem and certkey.pem for -m. */
    static Path anonymous;
    static Path withCertificate;
    /** NFS and MOUNT as the system's rpcbind on 127.0.0.1 knew them before ganesha started. */
    static List<String> systemNfsBefore;

    @TempDir
    Path tmp;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        ca = TestPki.ca("NFS CA");
        // the connector checks the front end's certificate against the address it connects to (-l)
        TestPki.writeServer(shared.resolve("server"), PeerPki.server(ca, "server", "localhost", "127.0.0.1", "127.0.0.2"));
        caFile = PeerPki.writeCa(shared.resolve("ca.pem"), ca);
        anonymous = Files.createDirectories(shared.resolve("anonymous"));
        withCertificate = shared.resolve("nfs-client");
        TestPki.writeServer(withCertificate, ca.leaf("nfs-client").issue());
        Ganesha.Export open = new Ganesha.Export(OPEN, shared.resolve("open"), "/export", false);
        Ganesha.Export priv = new Ganesha.Export(PRIV, shared.resolve("priv"), "/priv", true);
        for (Ganesha.Export e : List.of(open, priv)) {
            Files.createDirectories(e.path());
            Files.writeString(e.path().resolve(MARKER), MARKER_TEXT);
        }
        systemNfsBefore = nfsRegistrations("127.0.0.1");
        ganesha = Ganesha.start(shared.resolve("ganesha"), open, priv);
    }

    /** The NFS (100003) and MOUNT (100005) lines of {@code rpcinfo -p host}. */
    static List<String> nfsRegistrations(String host) throws Exception {
        Commands.Result r = Commands.run(20, "rpcinfo", "-p", host);
        assertEquals(0, r.status(), "rpcinfo -p " + host + ": " + r.output());
        return r.output().lines().map(String::strip).filter(l -> l.startsWith("100003 ") || l.startsWith("100005 ")).toList();
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

    private DaemonProcess daemon(String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("-d", "-D", shared.resolve("server").toString(), "--pidfile",
                tmp.resolve("pid").toString(), "--rpc-socket", tmp.resolve("rpctlssd.sock").toString(), "--no-rpcbind"));
        a.addAll(Arrays.asList(extra));
        DaemonProcess d = DaemonProcess.start(tmp.resolve("d"), List.of("-Xmx256m"), List.of(), a.toArray(new String[0]));
        toClose.add(d);
        return d;
    }

    /** One front end before ganesha's NFS port, with the options every release has. */
    private DaemonProcess nfsDaemon(String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--backend", ganesha.address + ":" + Ganesha.NFS_PORT));
        a.addAll(Arrays.asList(extra));
        return daemon(a.toArray(new String[0]));
    }

    /** Ports of one daemon with two relays: NFS on 127.0.0.1, MOUNT on 127.0.0.2 (told apart by address). */
    private record Relays(DaemonProcess daemon, int nfs, int mount) {
    }

    private Relays nfsAndMountDaemon() throws Exception {
        DaemonProcess d = daemon("--relay", "127.0.0.1:0," + ganesha.address + ":" + Ganesha.NFS_PORT + ",nfs",
                "--relay", "127.0.0.2:0," + ganesha.address + ":" + Ganesha.MOUNT_PORT + ",mount");
        return new Relays(d, listening(d, "127.0.0.1"), listening(d, "127.0.0.2"));
    }

    private static int listening(DaemonProcess d, String address) {
        Matcher m = Pattern.compile("front end: RPC-over-TLS on " + Pattern.quote(address) + ":(\\d+)").matcher(d.log());
        assertTrue(m.find(), "no front end on " + address + ": " + d.log());
        return Integer.parseInt(m.group(1));
    }

    /** One rpc.tlsclntd with a connector on 127.0.0.1 to each front end, in order; their ports. */
    private record Connectors(DaemonProcess daemon, List<Integer> ports) {
        int port(int i) {
            return ports.get(i);
        }

        /** Client handshakes that ended with {@code result} to the front end on {@code port}. */
        long handshakes(int frontEndPort, String result) {
            Matcher m = DaemonProcess.CLIENT_HANDSHAKE.matcher(daemon.log());
            long n = 0;
            while (m.find()) {
                n += m.group(1).endsWith(":" + frontEndPort) && m.group(2).equals(result) ? 1 : 0;
            }
            return n;
        }
    }

    /** {@code frontEnds}: host:port each; {@code certDir}: {@link #anonymous}, or {@link #withCertificate} for -m. */
    private Connectors connectors(Path certDir, String... frontEnds) throws Exception {
        List<String> a = new ArrayList<>(List.of("-d", "-D", certDir.toString(), "-l", caFile.toString(), "--no-pidfile",
                "--rpc-socket", tmp.resolve("rpctlscd-" + toClose.size() + ".sock").toString(), "--no-rpcbind"));
        if (certDir.equals(withCertificate)) {
            a.add("-m");
        }
        List<Integer> ports = new ArrayList<>();
        for (String f : frontEnds) {
            int p = TestDaemons.freePort();
            ports.add(p);
            a.addAll(List.of("--connect", "127.0.0.1:" + p + "," + f));
        }
        DaemonProcess d = DaemonProcess.startClient(tmp.resolve("clntd-" + toClose.size()), List.of("-Xmx256m"), a.toArray(new String[0]));
        toClose.add(d);
        return new Connectors(d, ports);
    }

    private static List<String> auditFlags(DaemonProcess d) {
        List<String> flags = new ArrayList<>();
        Matcher m = AUDIT.matcher(d.log());
        while (m.find()) {
            flags.add(m.group(1));
        }
        return flags;
    }

    private static String unique(String what) {
        return what + "-" + System.nanoTime(); // ganesha's cache dislikes names reused behind its back
    }

    @Test
    void ganeshaRegistersWithItsOwnRpcbindOnly() throws Exception {
        List<String> own = nfsRegistrations(ganesha.address);
        assertTrue(own.stream().anyMatch(l -> l.matches("100003\\s+3\\s+tcp\\s+" + Ganesha.NFS_PORT + "\\s.*")), own.toString());
        assertTrue(own.stream().anyMatch(l -> l.matches("100005\\s+3\\s+tcp\\s+" + Ganesha.MOUNT_PORT + "\\s.*")), own.toString());
        assertEquals(systemNfsBefore, nfsRegistrations("127.0.0.1"), "the system's rpcbind");
    }

    @Test
    void nfsV3WithNfsAndMountOverTlsThroughOneDaemon() throws Exception {
        Relays r = nfsAndMountDaemon();
        Connectors c = connectors(anonymous, "127.0.0.1:" + r.nfs(), "127.0.0.2:" + r.mount());
        int nfs = c.port(0);
        int mount = c.port(1);
        String export = ganesha.export(OPEN).realPath();
        String name = unique("v3");
        String text = "written over NFSv3 through " + r.daemon().pid() + "\n";
        Path local = Files.writeString(tmp.resolve("local.txt"), text);

        Libnfs.cpOk(local.toString(), Libnfs.v3(nfs, mount, export, name));
        assertEquals(text, Files.readString(ganesha.export(OPEN).path().resolve(name)), "what ganesha stored");
        assertTrue(Libnfs.lsOk(Libnfs.v3(nfs, mount, export, "")).contains(name));
        assertEquals(text, Libnfs.catOk(Libnfs.v3(nfs, mount, export, name)));
        // ganesha listens on its namespace's address only, so MOUNT can only have come through the front end
        long mountSessions = c.handshakes(r.mount(), "ok");
        long nfsSessions = c.handshakes(r.nfs(), "ok");
        assertTrue(mountSessions >= 3 && nfsSessions >= 3, "TLS sessions: MOUNT " + mountSessions + ", NFS " + nfsSessions
                + ": " + c.daemon().log());
        assertTrue(auditFlags(r.daemon()).size() >= 6, r.daemon().log());
    }

    @Test
    void nfsV4ListsAndReads() throws Exception {
        DaemonProcess d = nfsDaemon();
        Connectors c = connectors(anonymous, "localhost:" + d.frontEndPort);
        int nfs = c.port(0);

        assertTrue(Libnfs.lsOk(Libnfs.v4(nfs, "/export", "")).contains(MARKER));
        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(nfs, "/export", MARKER)));
        assertEquals(List.of("ok", "ok"), c.daemon().handshakeResults(), c.daemon().log());
        assertEquals(List.of("0x01", "0x01"), auditFlags(d), d.log());
    }

    @Test
    void aFileOf64MiBWrittenWithV3ReadsBackWithV3AndV4() throws Exception {
        Relays r = nfsAndMountDaemon();
        Connectors c = connectors(anonymous, "127.0.0.1:" + r.nfs(), "127.0.0.2:" + r.mount());
        int nfs = c.port(0);
        int mount = c.port(1);
        String export = ganesha.export(OPEN).realPath();
        String name = unique("big");
        Path big = tmp.resolve("big");
        Random random = new Random(9289);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(big)) {
            for (int i = 0; i < 64; i++) {
                random.nextBytes(block);
                out.write(block);
            }
        }
        String sum = Libnfs.sha256(big);

        Libnfs.cpOk(big.toString(), Libnfs.v3(nfs, mount, export, name));
        assertEquals(sum, Libnfs.sha256(ganesha.export(OPEN).path().resolve(name)), "what ganesha stored");
        Path v3 = tmp.resolve("back-v3");
        Libnfs.cpOk(Libnfs.v3(nfs, mount, export, name), v3.toString());
        assertEquals(sum, Libnfs.sha256(v3), "read with NFSv3");
        Path v4 = tmp.resolve("back-v4");
        Libnfs.cpOk(Libnfs.v4(nfs, "/export", name), v4.toString());
        assertEquals(sum, Libnfs.sha256(v4), "read with NFSv4.0");
        assertTrue(r.daemon().process.isAlive(), r.daemon().log());
        assertTrue(c.daemon().process.isAlive(), c.daemon().log());
    }

    @Test
    void aPrivilegedPortExportIsServedFromTheDefaultReservedPorts() throws Exception {
        DaemonProcess d = nfsDaemon();
        int nfs = connectors(anonymous, "localhost:" + d.frontEndPort).port(0);

        assertTrue(Libnfs.lsOk(Libnfs.v4(nfs, "/priv", "")).contains(MARKER));
        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(nfs, "/priv", MARKER)));
    }

    @Test
    void aPrivilegedPortExportRefusesBackendSourcePortsAny() throws Exception {
        DaemonProcess d = nfsDaemon("--backend-source-ports", "any");
        int nfs = connectors(anonymous, "localhost:" + d.frontEndPort).port(0);

        Commands.Result priv = Libnfs.cat(Libnfs.v4(nfs, "/priv", MARKER));
        assertNotEquals(0, priv.status(), priv.output());
        assertFalse(priv.output().contains(MARKER_TEXT), priv.output());
        // the same daemon serves the export without the condition, and ganesha serves /priv to a client
        // on a reserved port (libnfs as root, straight to it): the refusal is ganesha's, for the port
        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(nfs, "/export", MARKER)));
        assertEquals(MARKER_TEXT, Libnfs.catOk("nfs://" + ganesha.address + "/priv/" + MARKER + "?version=4&nfsport=" + Ganesha.NFS_PORT));
    }

    @Test
    void requireCertServesAClientWithACertificateAndRefusesOneWithout() throws Exception {
        DaemonProcess d = nfsDaemon("--require", "cert", "-m", "-l", caFile.toString(), "--metrics", "127.0.0.1:0");
        Connectors certified = connectors(withCertificate, "localhost:" + d.frontEndPort);
        Connectors bare = connectors(anonymous, "localhost:" + d.frontEndPort);

        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(certified.port(0), "/export", MARKER)));
        assertEquals(0, tooWeak(d), "refusals before the client without a certificate");
        Commands.Result refused = Libnfs.cat(Libnfs.v4(bare.port(0), "/export", MARKER));
        assertNotEquals(0, refused.status(), refused.output());
        assertFalse(refused.output().contains(MARKER_TEXT), refused.output());
        assertEquals(List.of("ok"), bare.daemon().handshakeResults(), "the refusal comes after the handshake: " + bare.daemon().log());
        // one verified session (0x0b), one without a certificate (0x01), whose calls --require cert refused
        assertEquals(List.of("0x0b", "0x01"), auditFlags(d), d.log());
        assertTrue(tooWeak(d) >= 1, "AUTH_TOOWEAK counted");
        Await.until(() -> d.log().contains("no client certificate"), "the daemon's log to name the refusal: " + d.log());
    }

    /** Calls the daemon answered AUTH_TOOWEAK so far, from its /metrics. */
    private static long tooWeak(DaemonProcess d) throws Exception {
        Matcher m = Pattern.compile("metrics: Prometheus /metrics and /ready on 127\\.0\\.0\\.1:(\\d+)").matcher(d.log());
        assertTrue(m.find(), d.log());
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + m.group(1)
                + "/metrics")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        Matcher v = Pattern.compile("^rpctlssd_rpc_rejects_total\\{reason=\"auth_tooweak\"\\} (\\S+)$", Pattern.MULTILINE).matcher(r.body());
        assertTrue(v.find(), r.body());
        return (long) Double.parseDouble(v.group(1));
    }

    @Test
    void aClientAfterTheBackendRestartedIsServed() throws Exception {
        DaemonProcess d = nfsDaemon();
        int nfs = connectors(anonymous, "localhost:" + d.frontEndPort).port(0);
        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(nfs, "/export", MARKER)));

        ganesha.restart();

        assertTrue(d.process.isAlive(), d.log());
        assertEquals(MARKER_TEXT, Libnfs.catOk(Libnfs.v4(nfs, "/export", MARKER)));
        assertTrue(Libnfs.lsOk(Libnfs.v4(nfs, "/export", "")).contains(MARKER));
    }
}
