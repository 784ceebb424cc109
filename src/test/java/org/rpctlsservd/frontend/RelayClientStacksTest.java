package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.TlsClientProtocol;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.ProcessText;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * The relay on our record layer, driven by five TLS stacks that share no code with it: OpenSSL
 * (s_client), Python's ssl (on OpenSSL, but its own RFC 9289 client), the JDK, Bouncy Castle's
 * client and GnuTLS (gnutls-cli). Each does the STARTTLS probe (s_client and gnutls-cli through
 * {@link Tls13Wiretap}, which probes for them), TLS 1.3 with ALPN sunrpc (the daemon runs with
 * --require-alpn), a 1 MiB call with a 1 MiB reply and 300 small calls, pipelined, to a plain
 * backend and back, then closes with close_notify, which the daemon answers. The wire is read
 * afterwards: with the session's secrets (a key log, or Bouncy Castle's), the application data on it
 * is exactly what went in, and each direction ends with close_notify and nothing after.
 */
class RelayClientStacksTest {
    private static final TestPki.Ca CA = TestPki.ca("Client stacks CA");
    private static final TestPki.Issued SERVER = CA.leaf("server").dns("localhost").issue();
    static final int MIB = 1 << 20;
    static final int SMALL_CALLS = 300;

    @TempDir
    Path tmp;

    final ExecutorService threads = Executors.newCachedThreadPool();
    final List<AutoCloseable> toClose = new ArrayList<>();
    RecordLayerRelayTest.BulkEcho backend;
    Path caFile;

    @BeforeEach
    void backend() throws IOException {
        backend = new RecordLayerRelayTest.BulkEcho(threads);
        toClose.add(backend);
        caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(CA.cert()));
    }

    @AfterEach
    void close() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        threads.shutdownNow();
    }

    /** One client's TLS session: plaintext in and out, and how it closes. */
    interface Session {
        OutputStream out();

        InputStream in();

        /** Sends close_notify and checks, as far as the stack tells, that the daemon's came back. */
        void closeCleanly() throws Exception;

        /** The client's and the server's application traffic secrets, or null where the stack does not give them. */
        byte[][] secrets() throws IOException;

        /** What the stack says it negotiated, for failure messages. */
        String negotiated();

        /** This session, with {@code check} run after its clean close. */
        default Session checkedAfterClose(Step check) {
            return session(out(), in(), () -> {
                closeCleanly();
                check.run();
            }, this::secrets, this::negotiated);
        }
    }

    interface Step {
        void run() throws Exception;
    }

    interface Secrets {
        byte[][] get() throws IOException;
    }

    /** A session of these parts (the streams are the stack's, fetched once). */
    static Session session(OutputStream out, InputStream in, Step closeCleanly, Secrets secrets, Supplier<String> negotiated) {
        return new Session() {
            @Override
            public OutputStream out() {
                return out;
            }

            @Override
            public InputStream in() {
                return in;
            }

            @Override
            public void closeCleanly() throws Exception {
                closeCleanly.run();
            }

            @Override
            public byte[][] secrets() throws IOException {
                return secrets.get();
            }

            @Override
            public String negotiated() {
                return negotiated.get();
            }
        };
    }

    enum Stack {
        OPENSSL(true), PYTHON(false), JDK(false), BOUNCY_CASTLE(false), GNUTLS(true);

        /** The stack cannot send the RFC 9289 probe: the wiretap does, before splicing. */
        final boolean tapProbes;

        Stack(boolean tapProbes) {
            this.tapProbes = tapProbes;
        }
    }

    @ParameterizedTest
    @EnumSource(Stack.class)
    void aMebibyteEachWayAndManySmallCallsThenCloseNotifyAnswered(Stack stack) throws Exception {
        try (FrontEndHarness h = new FrontEndHarness(tmp, SERVER, backend.port(), "--require-alpn")) {
            Tls13Wiretap tap = new Tls13Wiretap(h.port, stack.tapProbes, threads);
            toClose.add(tap);
            Session s = switch (stack) {
                case OPENSSL -> openSsl(tap.port());
                case PYTHON -> python(tap.port());
                case JDK -> jdk(tap.port());
                case BOUNCY_CASTLE -> bouncyCastle(tap.port());
                case GNUTLS -> gnuTls(tap.port());
            };
            Traffic t = exercise(s);
            s.closeCleanly();
            tap.awaitEnd(20);
            assertEquals(1 + SMALL_CALLS, backend.calls.get(), "calls relayed to the backend");
            checkWire(tap, stack, s, t);
        }
    }

    /** What went into the session and what came out of it, record marks included. */
    record Traffic(byte[] written, byte[] read) {
    }

    /**
     * A 1 MiB call, then {@value #SMALL_CALLS} calls of 0 to 3000 bytes, written by one thread
     * while this one reads the replies (so no pipe fills up between a process's standard input and
     * output); each reply is the backend's header and the whole call, whose digests must match.
     */
    static Traffic exercise(Session s) throws Exception {
        Random r = new Random(9289);
        List<byte[]> calls = new ArrayList<>();
        byte[] big = new byte[MIB];
        r.nextBytes(big);
        calls.add(call(1, big));
        for (int i = 0; i < SMALL_CALLS; i++) {
            byte[] small = new byte[r.nextInt(3001)];
            r.nextBytes(small);
            calls.add(call(2 + i, small));
        }
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        for (byte[] c : calls) {
            written.writeBytes(ByteBuffer.allocate(4).putInt(0x80000000 | c.length).array());
            written.writeBytes(c);
        }
        byte[] all = written.toByteArray();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                OutputStream out = s.out();
                int mib = 4 + calls.get(0).length;
                out.write(all, 0, mib);
                out.flush();
                out.write(all, mib, all.length - mib);
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        MessageDigest echoed = MessageDigest.getInstance("SHA-256");
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        DataInputStream in = new DataInputStream(s.in());
        for (int i = 0; i < calls.size(); i++) {
            byte[] reply = readFramed(in, read);
            byte[] call = calls.get(i);
            ByteBuffer b = ByteBuffer.wrap(reply);
            assertEquals(ByteBuffer.wrap(call).getInt(), b.getInt(), "reply " + i + "'s xid (" + s.negotiated() + ")");
            assertEquals(RecordLayerRelayTest.BulkEcho.HEADER + call.length, reply.length, "reply " + i + "'s length");
            sent.update(call);
            echoed.update(reply, RecordLayerRelayTest.BulkEcho.HEADER, call.length);
        }
        writer.get(30, TimeUnit.SECONDS);
        assertEquals(HexFormat.of().formatHex(sent.digest()), HexFormat.of().formatHex(echoed.digest()),
                "the calls came back whole (" + s.negotiated() + ")");
        return new Traffic(all, read.toByteArray());
    }

    static byte[] call(int xid, byte[] args) {
        return RawRpc.call().xid(xid).prog(org.rpctlsservd.support.EchoBackend.PROGRAM).vers(1).proc(7).args(args).bytes();
    }

    /** One record-marked record, its fragments joined; its bytes as they came, marks included, kept in {@code raw}. */
    static byte[] readFramed(DataInputStream in, ByteArrayOutputStream raw) throws IOException {
        ByteArrayOutputStream rec = new ByteArrayOutputStream();
        while (true) {
            int mark = in.readInt();
            byte[] frag = new byte[mark & 0x7fffffff];
            in.readFully(frag);
            raw.writeBytes(ByteBuffer.allocate(4).putInt(mark).array());
            raw.writeBytes(frag);
            rec.writeBytes(frag);
            if (mark < 0) {
                return rec.toByteArray();
            }
        }
    }

    /**
     * The wire after the session. With the secrets: every application-data byte on it is exactly
     * what went in (or came out) and each direction's last record is close_notify; without them (the
     * JDK), each direction's last record has the size of an alert.
     */
    static void checkWire(Tls13Wiretap tap, Stack stack, Session s, Traffic t) throws Exception {
        // a client that probed itself has the probe (and the daemon its reply) in clear text first
        List<Tls13Wiretap.Record> up = Tls13Wiretap.records(tap.clientBytes(), !stack.tapProbes);
        List<Tls13Wiretap.Record> down = Tls13Wiretap.records(tap.serverBytes(), !stack.tapProbes);
        int suite = Tls13Wiretap.suite(down);
        String what = stack + " on " + Tls13Wiretap.suiteName(suite) + " (" + s.negotiated() + ")";
        byte[][] secrets = s.secrets();
        if (secrets == null) {
            // the daemon's last record before its FIN has an alert's size (its close_notify; application data is never 2 bytes here)
            assertEquals(2 + 1 + 16, down.get(down.size() - 1).body().length, what + ": the daemon's last record is an alert's size");
            return;
        }
        List<Tls13Wiretap.Inner> c = Tls13Wiretap.open(up, suite, secrets[0]);
        List<Tls13Wiretap.Inner> d = Tls13Wiretap.open(down, suite, secrets[1]);
        assertArrayEquals(t.written(), Tls13Wiretap.applicationData(c), what + ": the client's application data on the wire");
        assertArrayEquals(t.read(), Tls13Wiretap.applicationData(d), what + ": the daemon's application data on the wire");
        assertTrue(c.get(c.size() - 1).isCloseNotify(), what + ": the client's last record " + c.get(c.size() - 1));
        assertTrue(d.get(d.size() - 1).isCloseNotify(), what + ": the daemon's last record " + d.get(d.size() - 1));
        for (Tls13Wiretap.Inner i : d.subList(0, d.size() - 1)) {
            assertEquals(23, i.type(), what + ": only application data before the daemon's close_notify: " + i);
        }
    }

    // ---------------------------------------------------------------- the stacks

    /** A client process driven through its standard input and output, its diagnostics collected. */
    Session process(List<String> command, Path keyLog, Path log, String established, ProcessBuilder pb) throws Exception {
        pb.command(command);
        Process p = pb.start();
        toClose.add(p::destroyForcibly);
        ProcessText err = new ProcessText(p.getErrorStream(), threads);
        Supplier<String> diag = () -> err.text() + (log != null && Files.exists(log) ? read(log) : "");
        if (established != null) {
            Await.until(() -> diag.get().contains(established) || !p.isAlive(), established + " from " + command.get(0), 20);
            assertTrue(p.isAlive(), "the client ended: " + diag.get());
        }
        return session(p.getOutputStream(), p.getInputStream(), () -> {
            p.getOutputStream().close(); // the end of its input: each sends close_notify
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the client ended: " + diag.get());
            assertEquals(0, p.exitValue(), diag.get());
        }, () -> Tls13Wiretap.keyLog(keyLog), diag);
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }

    Session openSsl(int port) throws Exception {
        Path keyLog = tmp.resolve("openssl.keys");
        // -nocommands: a chunk of input starting with K, Q or R is data, not a command
        return process(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_3", "-ciphersuites",
                "TLS_AES_256_GCM_SHA384", "-alpn", "sunrpc", "-servername", "localhost", "-verify_hostname", "localhost",
                "-CAfile", caFile.toString(), "-verify_return_error", "-keylogfile", keyLog.toString(), "-nocommands", "-brief"),
                keyLog, null, "CONNECTION ESTABLISHED", new ProcessBuilder());
    }

    Session gnuTls(int port) throws Exception {
        Path keyLog = tmp.resolve("gnutls.keys");
        Path log = tmp.resolve("gnutls.log");
        ProcessBuilder pb = new ProcessBuilder();
        pb.environment().put("SSLKEYLOGFILE", keyLog.toString());
        Session s = process(List.of("gnutls-cli", "127.0.0.1", "--port", String.valueOf(port), "--sni-hostname", "localhost",
                "--verify-hostname", "localhost", "--x509cafile", caFile.toString(), "--alpn", "sunrpc",
                "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305", "--logfile", log.toString()),
                keyLog, log, null, pb); // its log file is written in blocks: it reads its input once the handshake is done
        return s.checkedAfterClose(() -> assertTrue(s.negotiated().contains("- Application protocol: sunrpc"), s.negotiated()));
    }

    Session python(int port) throws Exception {
        Path keyLog = tmp.resolve("python.keys");
        Session s = process(List.of("python3", Path.of("src", "test", "python", "rfc9289_stdio_client.py").toAbsolutePath().toString(),
                "--port", String.valueOf(port), "--ca", caFile.toString(), "--keylog", keyLog.toString()),
                keyLog, null, "tls ok", new ProcessBuilder());
        assertTrue(s.negotiated().contains("alpn=sunrpc"), s.negotiated());
        // ssl's unwrap() returned: the daemon's close_notify came (an end without it raises)
        return s.checkedAfterClose(() -> assertTrue(s.negotiated().contains("close_notify answered"), s.negotiated()));
    }

    Session jdk(int port) throws Exception {
        Socket raw = RawRpc.connect(port);
        toClose.add(raw);
        SSLSocket ssl = FrontEndHarness.startTls(raw, port, TlsHarness.jdkClient(null, CA, "TLSv1.3"), x -> {
            SSLParameters p = x.getSSLParameters();
            p.setApplicationProtocols(new String[] {"sunrpc"});
            p.setCipherSuites(new String[] {"TLS_AES_128_GCM_SHA256"});
            x.setSSLParameters(p);
        });
        ssl.setSoTimeout(20_000);
        assertEquals("sunrpc", ssl.getApplicationProtocol());
        String negotiated = ssl.getSession().getProtocol() + " " + ssl.getSession().getCipherSuite();
        return session(ssl.getOutputStream(), ssl.getInputStream(), () -> {
            ssl.shutdownOutput(); // TLS 1.3's half-close: our close_notify, the socket left open for the answer
            // no data after ours; the JDK's read ends (-1) at a bare TCP end as at close_notify, so the wire is the check
            assertEquals(-1, ssl.getInputStream().read(), "the end of the daemon's data");
            ssl.close();
        }, () -> null /* the JDK keeps its secrets to itself */, () -> negotiated);
    }

    Session bouncyCastle(int port) throws Exception {
        Socket raw = RawRpc.connect(port);
        raw.setSoTimeout(20_000);
        toClose.add(raw);
        Tls13Wiretap.probe(raw);
        BcTls13Client c = BcTls13Client.connect(raw, SERVER, CipherSuite.TLS_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384);
        TlsClientProtocol p = c.protocol();
        byte[][] secrets = c.secrets();
        String negotiated = c.negotiated();
        assertTrue(negotiated.endsWith("alpn sunrpc"), negotiated);
        // close_notify on close; the daemon's answer is read from the wire, with the secrets
        return session(p.getOutputStream(), p.getInputStream(), p::close, () -> secrets, () -> negotiated);
    }
}
