package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.handshake.EstablishedSessions;
import org.rpctlsservd.rpc.RecordParser;
import org.rpctlsservd.rpc.RpcMessages;
import org.rpctlsservd.sessions.SessionTable;
import org.rpctlsservd.sessions.SocketHandoff;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.RawRpc;

/**
 * The connector over real loopback sockets, up to the RPCTLSCD CONNECT upcall: a stand-in RFC 9289
 * server (a socket that answers the probe as told) and a stand-in rpc.tlsclntd (a socket that
 * answers CONNECT as told). The TLS itself is the client daemon's, tested with it.
 */
class ConnectorTest {
    private static final byte[] CALL = StartTlsProbe.call(0x1234, 100003, 3); // a NULL of NFSv3 as any client's first call
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final SocketHandoff handoff = new SocketHandoff();
    private FrontEnd connector;

    @AfterEach
    void stop() {
        if (connector != null) {
            connector.close();
        }
        timer.shutdownNow();
    }

    @Test
    void aServerThatAnswersWithoutStartTlsGetsNothingAndTheClientIsClosed() throws Exception {
        try (Server server = new Server(xid -> RpcMessages.authError(xid, 1), false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(server.port(), rpctlscd, false, Duration.ofSeconds(30));
            try (Socket client = client()) {
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                assertEquals(-1, client.getInputStream().read(), "closed, not answered");
            }
            assertTrue(log.has("connector: server 127.0.0.1:" + server.port() + " did not answer STARTTLS (MSG_DENIED, AUTH_ERROR"),
                    log.lines().toString());
            assertEquals(0, server.after.get(10, TimeUnit.SECONDS).length, "nothing of the client's reached the server");
            assertEquals(0, handoff.size(), "nothing parked");
        }
    }

    @Test
    void withAllowPlainAServerWithoutStartTlsIsRelayedInPlainText() throws Exception {
        try (Server server = new Server(xid -> unavailable(xid), true);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(server.port(), rpctlscd, true, Duration.ofSeconds(30));
            try (Socket client = client()) {
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                assertArrayEquals(CALL, record(client.getInputStream()), "the server's echo, through the connector");
            }
            assertTrue(log.has("did not answer STARTTLS (MSG_ACCEPTED, PROG_UNAVAIL"), log.lines().toString());
            assertTrue(log.has("relaying in plain text (--allow-plain)"), log.lines().toString());
        }
    }

    @Test
    void startTlsParksTheServerSocketAndAFailedConnectUpcallClosesTheClient() throws Exception {
        try (Server server = new Server(RpcMessages::startTls, false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(server.port(), rpctlscd, false, Duration.ofSeconds(30));
            CompletableFuture<String> upcall = CompletableFuture.supplyAsync(() -> answerConnect(rpctlscd, 5));
            try (Socket client = client()) {
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                assertEquals("certname mine, parked for 127.0.0.1", upcall.get(10, TimeUnit.SECONDS));
                assertEquals(-1, client.getInputStream().read(), "closed after reterr 5");
            }
            assertTrue(log.has("connector: TLS to server 127.0.0.1:" + server.port() + " failed: RPCTLSCD CONNECT answered reterr 5"),
                    log.lines().toString());
            assertEquals(0, server.after.get(10, TimeUnit.SECONDS).length, "nothing in clear text after the probe");
        }
    }

    @Test
    void aServerThatNeverAnswersTheProbeIsGivenUpAtTheFirstCallTimeout() throws Exception {
        try (Server server = new Server(null, false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(server.port(), rpctlscd, false, Duration.ofSeconds(1));
            try (Socket client = client()) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                assertEquals(-1, client.getInputStream().read(), "closed by --first-call-timeout");
            }
            assertEquals(0, server.after.get(10, TimeUnit.SECONDS).length);
            // the connector's words, naming the server: not the front end's "no STARTTLS probe answered and no call relayed"
            assertTrue(log.has("connector: closed clients whose server 127.0.0.1:" + server.port() + " answered no STARTTLS probe"
                    + " and finished no TLS handshake within 1000 ms (--first-call-timeout)"), log.lines().toString());
            assertTrue(log.lines().stream().noneMatch(l -> l.contains("front end")), log.lines().toString());
        }
    }

    @Test
    void aServerThatIsDownIsNamedAndTheClientClosed() throws Exception {
        int down;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            down = gone.getLocalPort(); // nobody listens there once closed
        }
        try (ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(down, rpctlscd, false, Duration.ofSeconds(30));
            try (Socket client = client()) {
                assertEquals(-1, client.getInputStream().read(), "closed");
            }
            assertTrue(log.has("connector: cannot reach the server 127.0.0.1:" + down + ": "), log.lines().toString());
        }
    }

    @Test
    void twoServersWithoutStartTlsWithinTheIntervalAreBothNamed() throws Exception {
        try (Server one = new Server(xid -> RpcMessages.authError(xid, 1), false);
                Server two = new Server(xid -> RpcMessages.authError(xid, 1), false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(List.of(one.port(), two.port()), rpctlscd, false, Duration.ofSeconds(30));
            for (int i = 0; i < 2; i++) { // well within the 10 s of the warnings' rate limit
                try (Socket client = client(i)) {
                    client.getOutputStream().write(RecordParser.framed(CALL).array());
                    assertEquals(-1, client.getInputStream().read(), "closed, not answered");
                }
            }
            for (Server s : List.of(one, two)) {
                assertTrue(log.has("connector: server 127.0.0.1:" + s.port() + " did not answer STARTTLS (MSG_DENIED"), log.lines().toString());
            }
        }
    }

    @Test
    void garbageInsteadOfAReplyToTheProbeIsSaidAndNothingIsRelayed() throws Exception {
        // not even a record mark: "HTTP/1.1 400" reads as a fragment of 1.2 GB
        try (Server server = new Server(xid -> "HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII), false, false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            start(server.port(), rpctlscd, false, Duration.ofSeconds(30));
            try (Socket client = client()) {
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                assertEquals(-1, client.getInputStream().read(), "closed, not answered");
            }
            assertTrue(log.has("connector: server 127.0.0.1:" + server.port() + " did not answer STARTTLS (garbage instead of a reply: "),
                    log.lines().toString());
            assertEquals(0, server.after.get(10, TimeUnit.SECONDS).length, "nothing of the client's reached the server");
            assertEquals(0, handoff.size(), "nothing parked");
        }
    }

    @Test
    void readyTracksServersGivenByNameThroughTheirLookUps() throws Exception {
        try (ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                ServerSocket up = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            FrontEndSettings s = FrontEndSettings.connector(List.of(
                    new Connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "127.0.0.1", 2049, ""),
                    new Connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "localhost", up.getLocalPort(), ""),
                    new Connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "no-such-server.invalid", 2049, "")),
                    false, Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(10), 1, 100, Duration.ofSeconds(10),
                    SourcePortRange.ANY, List.of());
            connector = new FrontEnd(s, rpctlscd.getLocalSocketAddress(), null, handoff, new EstablishedSessions(new SessionTable()), timer,
                    new MemoryBudget(64L << 20));
            // a name may resolve to another address at each connect: it is tracked by name, each probe looks it up again
            assertEquals(List.of("127.0.0.1:2049", "localhost:" + up.getLocalPort(), "no-such-server.invalid:2049"),
                    List.copyOf(connector.backendHealth().reachable().keySet()));
            up.setSoTimeout(20_000);
            up.accept().close(); // the probe of "localhost": looked up, then connected
            Await.until(() -> connector.backendHealth().problems().stream()
                    .anyMatch(p -> p.backend().getHostString().equals("no-such-server.invalid")), "the name that resolves to nothing unready", 30);
            BackendHealth.Problem p = connector.backendHealth().problems().stream()
                    .filter(x -> x.backend().getHostString().equals("no-such-server.invalid")).findFirst().orElseThrow();
            assertTrue(p.describe("--connect").startsWith("backend no-such-server.invalid:2049 (--connect): "), p.describe("--connect"));
            assertTrue(p.reason().startsWith("not resolved: ") || p.reason().startsWith("the name service gave no answer"), p.reason());
            assertEquals(Boolean.TRUE, connector.backendHealth().reachable().get("localhost:" + up.getLocalPort()), "localhost reached");
        }
    }

    /**
     * The clients' own connects to a server given by name count for it, under its name: while they
     * come (one every 300 ms here) no health probe is needed, so the server sees only the clients'
     * connections (each sends its STARTTLS probe), none of the probes' silent ones. Were the
     * connects counted under the address the name resolved to, the name would be probed every 2 s.
     */
    @Test
    void clientsConnectsToAServerGivenByNameCountForItsHealth() throws Exception {
        try (ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                ServerSocket up = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            java.util.concurrent.atomic.AtomicInteger silent = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicInteger spoke = new java.util.concurrent.atomic.AtomicInteger();
            Thread server = new Thread(() -> {
                while (!up.isClosed()) {
                    try (Socket s = up.accept()) {
                        s.setSoTimeout(5000);
                        (s.getInputStream().read() < 0 ? silent : spoke).incrementAndGet(); // then closed: STARTTLS fails
                    } catch (IOException e) {
                        // closed by the test, or a connection that went
                    }
                }
            });
            server.setDaemon(true);
            server.start();
            FrontEndSettings s = FrontEndSettings.connector(List.of(
                    new Connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "localhost", up.getLocalPort(), "")),
                    false, Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(10), 1, 100, Duration.ofSeconds(10),
                    SourcePortRange.ANY, List.of());
            connector = new FrontEnd(s, rpctlscd.getLocalSocketAddress(), null, handoff, new EstablishedSessions(new SessionTable()), timer,
                    new MemoryBudget(64L << 20));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            int clients = 0;
            while (System.nanoTime() < end) {
                try (Socket client = client()) {
                    client.getOutputStream().write(RecordParser.framed(CALL).array());
                    assertEquals(-1, client.getInputStream().read(), "closed when the server did not answer STARTTLS");
                }
                clients++;
                TimeUnit.MILLISECONDS.sleep(300); // pacing the clients, not waiting for a result
            }
            int made = clients;
            Await.until(() -> spoke.get() == made, "every client's connection reached the server (" + spoke.get() + " of " + made + ")", 10);
            assertEquals(0, silent.get(), "no health probe while the clients' connects spoke for the server");
            assertEquals(Boolean.TRUE, connector.backendHealth().reachable().get("localhost:" + up.getLocalPort()));
        }
    }

    /**
     * Relaying in plain text (--allow-plain) ends cleanly too: a server that sends its last reply and
     * closes has all of it reach a client that was not reading, before the connector closes it (the
     * sizes as CleanEndTest's, so the end comes while the reply waits in the connector's queue).
     */
    @Test
    void withAllowPlainTheServersLastReplyReachesAClientThatWasNotReadingWhole() throws Exception {
        byte[] reply = CleanEndTest.reply(0x1234, CleanEndTest.pattern(CleanEndTest.absorbed() + 512 * 1024));
        try (ServerSocket plainServer = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                LogCapture log = LogCapture.daemon()) {
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                try (Socket s = plainServer.accept()) {
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    byte[] probe = RawRpc.readRecord(in);
                    s.getOutputStream().write(RecordParser.framed(unavailable(ByteBuffer.wrap(probe).getInt(0))).array()); // no STARTTLS here
                    RawRpc.readRecord(in); // the client's call, in plain text
                    CleanEndTest.writeRecord(s.getOutputStream(), reply); // and closes at once
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            start(plainServer.getLocalPort(), rpctlscd, true, Duration.ofSeconds(30));
            try (Socket client = new Socket()) {
                client.setReceiveBufferSize(4096); // before connecting: the window stays small
                client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), connector.addresses().get(0).getPort()), 5000);
                client.setSoTimeout(20_000);
                client.getOutputStream().write(RecordParser.framed(CALL).array());
                served.get(30, TimeUnit.SECONDS);
                java.util.regex.Matcher m = CleanEndTest.ending(log, "connector", "the server closed the connection");
                assertTrue(Long.parseLong(m.group(2)) > 0, "the server ended while its reply waited in the connector: " + m.group());
                assertArrayEquals(reply, RawRpc.readRecord(new DataInputStream(client.getInputStream())), "the whole reply");
                assertEquals(-1, client.getInputStream().read(), "then the connector closed the connection");
            }
        }
    }

    @Test
    void theConnectorsLoopsAreNamedForIt() throws Exception {
        try (Server server = new Server(null, false);
                ServerSocket rpctlscd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            start(server.port(), rpctlscd, false, Duration.ofSeconds(30));
            java.util.Set<String> names = new java.util.TreeSet<>();
            Thread.getAllStackTraces().keySet().forEach(t -> names.add(t.getName()));
            assertTrue(names.contains("connector-io"), names.toString());
            assertTrue(names.stream().noneMatch(n -> n.startsWith("frontend-io")), names.toString());
        }
    }

    private void start(int serverPort, ServerSocket rpctlscd, boolean allowPlain, Duration firstCall) throws IOException {
        start(List.of(serverPort), rpctlscd, allowPlain, firstCall);
    }

    /** A connector with one --connect per server port, in order. */
    private void start(List<Integer> serverPorts, ServerSocket rpctlscd, boolean allowPlain, Duration firstCall) throws IOException {
        FrontEndSettings s = FrontEndSettings.connector(serverPorts.stream()
                .map(p -> new Connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "127.0.0.1", p, "mine")).toList(),
                allowPlain, Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(10), 1, 100, firstCall, SourcePortRange.ANY,
                List.of());
        connector = new FrontEnd(s, rpctlscd.getLocalSocketAddress(), null, handoff, new EstablishedSessions(new SessionTable()), timer,
                new MemoryBudget(64L << 20));
    }

    private Socket client() throws IOException {
        return client(0);
    }

    /** A plain client of the {@code i}th --connect. */
    private Socket client(int i) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), connector.addresses().get(i).getPort());
        s.setSoTimeout(10_000);
        return s;
    }

    /** As rpc.tlsclntd would: reads CONNECT, claims the parked socket, and answers {@code reterr}; says what it got. */
    private String answerConnect(ServerSocket rpctlscd, int reterr) {
        try (Socket s = rpctlscd.accept()) {
            s.setSoTimeout(10_000);
            ByteBuffer call = ByteBuffer.wrap(record(s.getInputStream()));
            int xid = call.getInt();
            assertEquals(0x40677374, call.getInt(12), "RPCTLSCD");
            assertEquals(2, call.getInt(16), "version 2");
            assertEquals(1, call.getInt(20), "CONNECT");
            call.position(24);
            for (int i = 0; i < 2; i++) { // credential and verifier
                call.getInt();
                int length = call.getInt();
                call.position(call.position() + ((length + 3) & ~3));
            }
            long cookie = call.getLong();
            byte[] name = new byte[call.getInt()];
            call.get(name);
            String parkedFor = handoff.claim(cookie).map(SocketHandoff.Parked::serverName).orElse("nothing");
            s.getOutputStream().write(RecordParser.framed(ByteBuffer.allocate(28).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0)
                    .putInt(0).putInt(reterr).array()).array());
            return "certname " + new String(name, StandardCharsets.UTF_8) + ", parked for " + parkedFor;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] unavailable(int xid) {
        return ByteBuffer.allocate(24).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(1).array();
    }

    private static byte[] record(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        byte[] b = new byte[d.readInt() & 0x7fffffff];
        d.readFully(b);
        return b;
    }

    /** A stand-in RFC 9289 server for one connection: answers the probe (null: never), then echoes records or keeps what comes. */
    private static final class Server implements AutoCloseable {
        final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        /** What came after the probe, until the connector closed. */
        final CompletableFuture<byte[]> after = new CompletableFuture<>();

        private final boolean framed;

        Server(Function<Integer, byte[]> answer, boolean echo) throws IOException {
            this(answer, echo, true);
        }

        /** {@code framed} false: the answer goes as it is, without a record mark. */
        Server(Function<Integer, byte[]> answer, boolean echo, boolean framed) throws IOException {
            this.framed = framed;
            Thread t = new Thread(() -> serve(answer, echo), "test-rfc9289-server");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        private void serve(Function<Integer, byte[]> answer, boolean echo) {
            try (Socket s = socket.accept()) {
                s.setSoTimeout(20_000);
                ByteBuffer probe = ByteBuffer.wrap(record(s.getInputStream()));
                assertEquals(7, probe.getInt(24), "AUTH_TLS");
                if (answer != null) {
                    byte[] a = answer.apply(probe.getInt(0));
                    s.getOutputStream().write(framed ? RecordParser.framed(a).array() : a);
                }
                if (echo) {
                    s.getOutputStream().write(RecordParser.framed(record(s.getInputStream())).array());
                }
                after.complete(s.getInputStream().readAllBytes());
            } catch (IOException | AssertionError e) {
                after.completeExceptionally(e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
