package org.rpctlsservd.frontend;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.tls.crypto.CryptoHashAlgorithm;
import org.bouncycastle.tls.crypto.TlsCryptoUtils;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;

/**
 * A loopback listener between one TLS client and the front end that copies both directions and
 * keeps every byte, so a test can read the wire afterwards: the TLS records each side sent and,
 * given the session's application traffic secrets (a key log, or Bouncy Castle's), what they
 * carried. For a client that cannot do RFC 9289 itself (s_client, gnutls-cli), it sends the
 * STARTTLS probe on the front end's connection first, so the client's first bytes are its
 * ClientHello; the TLS session is the client's and the daemon's, end to end.
 *
 * <p>Reading the records is written here (HKDF from Bouncy Castle, AEAD from the JDK) rather than
 * with our records package, so the check does not share the code it checks.
 */
final class Tls13Wiretap implements AutoCloseable {
    private final ServerSocket listener;
    private final ByteArrayOutputStream fromClient = new ByteArrayOutputStream();
    private final ByteArrayOutputStream fromServer = new ByteArrayOutputStream();
    private final CompletableFuture<Void> upDone = new CompletableFuture<>();
    private final CompletableFuture<Void> downDone = new CompletableFuture<>();
    private final List<Socket> sockets = new ArrayList<>();
    private final Future<?> acceptor;

    Tls13Wiretap(int frontEnd, boolean probe, ExecutorService threads) throws IOException {
        listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        acceptor = threads.submit(() -> {
            Socket c = listener.accept();
            Socket f = RawRpc.connect(frontEnd);
            synchronized (sockets) {
                sockets.add(c);
                sockets.add(f);
            }
            c.setTcpNoDelay(true);
            if (probe) {
                probe(f);
            }
            threads.submit(() -> pump(c, f, fromClient, upDone));
            threads.submit(() -> pump(f, c, fromServer, downDone));
            return null;
        });
    }

    int port() {
        return listener.getLocalPort();
    }

    /** RFC 9289's start, in clear text, on the front end's connection: the probe and its STARTTLS reply. */
    static void probe(Socket f) throws IOException {
        byte[] p = FrontEndHarness.probe(0x9289);
        f.getOutputStream().write(ByteBuffer.allocate(4 + p.length).putInt(0x80000000 | p.length).put(p).array());
        byte[] reply = RawRpc.readRecord(new DataInputStream(f.getInputStream()));
        ByteBuffer b = ByteBuffer.wrap(reply);
        if (reply.length != 32 || b.getInt() != 0x9289 || b.getInt() != 1 || b.getInt() != 0 || b.getInt() != 0
                || b.getInt() != 8 || !"STARTTLS".equals(new String(reply, 20, 8, StandardCharsets.US_ASCII))) {
            throw new IOException("not a STARTTLS reply: " + HexFormat.of().formatHex(reply));
        }
    }

    /** Copies until the end of {@code from}, keeping the bytes; then half-closes {@code to}. */
    private Void pump(Socket from, Socket to, ByteArrayOutputStream kept, CompletableFuture<Void> done) {
        byte[] buf = new byte[64 * 1024];
        boolean toOpen = true;
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buf)) > 0) {
                synchronized (kept) {
                    kept.write(buf, 0, n);
                }
                if (toOpen) {
                    try {
                        out.write(buf, 0, n);
                    } catch (IOException gone) {
                        toOpen = false; // a client that exited at once after its close_notify: keep reading the wire
                    }
                }
            }
            if (toOpen) {
                to.shutdownOutput();
            }
            done.complete(null);
        } catch (IOException e) {
            done.completeExceptionally(e);
        }
        return null;
    }

    /** Waits until both directions ended (each side's FIN), for at most {@code seconds}. */
    void awaitEnd(int seconds) throws Exception {
        acceptor.get(seconds, TimeUnit.SECONDS);
        CompletableFuture.allOf(upDone, downDone).get(seconds, TimeUnit.SECONDS);
    }

    /** True once the server's side of the wire ended (its FIN came). */
    boolean serverEnded() {
        return downDone.isDone();
    }

    byte[] clientBytes() {
        synchronized (fromClient) {
            return fromClient.toByteArray();
        }
    }

    byte[] serverBytes() {
        synchronized (fromServer) {
            return fromServer.toByteArray();
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    /** One TLS record as it was on the wire. */
    record Record(int type, byte[] header, byte[] body) {
    }

    /** One opened record: its inner content type and content (padding removed). */
    record Inner(int type, byte[] content) {
        boolean isCloseNotify() {
            return type == 21 && content.length == 2 && content[1] == 0;
        }

        @Override
        public String toString() {
            return "type " + type + ", " + content.length + " bytes"
                    + (type == 21 && content.length == 2 ? " (alert " + content[0] + "," + content[1] + ")" : "");
        }
    }

    /**
     * The TLS records of one direction, from its start (after the plain-text probe or its reply when
     * {@code skipRpcRecord}); the bytes must end on a record boundary.
     */
    static List<Record> records(byte[] wire, boolean skipRpcRecord) {
        ByteBuffer b = ByteBuffer.wrap(wire);
        if (skipRpcRecord) {
            int mark = b.getInt();
            b.position(b.position() + (mark & 0x7fffffff));
        }
        List<Record> out = new ArrayList<>();
        while (b.hasRemaining()) {
            if (b.remaining() < 5) {
                throw new AssertionError(b.remaining() + " bytes after the last whole record");
            }
            byte[] header = new byte[5];
            b.get(header);
            int len = ((header[3] & 0xff) << 8) | (header[4] & 0xff);
            if (b.remaining() < len) {
                throw new AssertionError("the last record is cut short: " + b.remaining() + " of " + len + " bytes");
            }
            byte[] body = new byte[len];
            b.get(body);
            out.add(new Record(header[0] & 0xff, header, body));
        }
        return out;
    }

    /** The cipher suite in the server's ServerHello, the first record it sent. */
    static int suite(List<Record> server) {
        Record hello = server.get(0);
        ByteBuffer b = ByteBuffer.wrap(hello.body());
        if (hello.type() != 22 || b.get() != 2) {
            throw new AssertionError("the server's first record is no ServerHello");
        }
        b.position(1 + 3 + 2 + 32);
        int sessionId = b.get() & 0xff;
        b.position(b.position() + sessionId);
        return b.getShort() & 0xffff;
    }

    static String suiteName(int suite) {
        return switch (suite) {
            case 0x1301 -> "TLS_AES_128_GCM_SHA256";
            case 0x1302 -> "TLS_AES_256_GCM_SHA384";
            case 0x1303 -> "TLS_CHACHA20_POLY1305_SHA256";
            default -> String.format("0x%04x", suite);
        };
    }

    /**
     * The records of one direction protected under {@code secret} (the first application traffic
     * secret, secret_0), opened in order from sequence number 0: the handshake's records before them
     * (under other keys) do not open and are passed over; from the first that opens, every later
     * one must (no KeyUpdate in these sessions).
     */
    static List<Inner> open(List<Record> records, int suite, byte[] secret) throws GeneralSecurityException, IOException {
        Direction o = new Direction(suite, secret);
        List<Inner> out = new ArrayList<>();
        for (Record r : records) {
            if (r.type() != 23) {
                if (!out.isEmpty()) {
                    throw new AssertionError("a record of outer type " + r.type() + " after application data");
                }
                continue;
            }
            Inner in = o.open(r);
            if (in == null) {
                if (!out.isEmpty()) {
                    throw new AssertionError("record " + o.sequence + " under the application key does not open");
                }
                continue;
            }
            out.add(in);
        }
        return out;
    }

    /** The application data of {@code opened}, in order. */
    static byte[] applicationData(List<Inner> opened) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (Inner i : opened) {
            if (i.type() == 23) {
                b.writeBytes(i.content());
            }
        }
        return b.toByteArray();
    }

    /**
     * One direction's record protection, as RFC 8446 section 5.2 and 5.3 say: key and IV from the
     * secret, nonce = IV xor sequence number, the header as additional data.
     */
    static final class Direction {
        final int suite;
        final byte[] key;
        final byte[] iv;
        long sequence;

        Direction(int suite, byte[] secret) throws IOException {
            this.suite = suite;
            int hash = suite == 0x1302 ? CryptoHashAlgorithm.sha384 : CryptoHashAlgorithm.sha256;
            BcTlsCrypto crypto = new BcTlsCrypto(new SecureRandom());
            key = TlsCryptoUtils.hkdfExpandLabel(crypto.createSecret(secret), hash, "key", new byte[0], suite == 0x1301 ? 16 : 32)
                    .extract();
            iv = TlsCryptoUtils.hkdfExpandLabel(crypto.createSecret(secret), hash, "iv", new byte[0], 12).extract();
        }

        Cipher cipher(int mode, long seq) throws GeneralSecurityException {
            byte[] nonce = iv.clone();
            for (int i = 0; i < 8; i++) {
                nonce[11 - i] ^= (byte) (seq >>> (8 * i));
            }
            Cipher c;
            if (suite == 0x1303) {
                c = Cipher.getInstance("ChaCha20-Poly1305");
                c.init(mode, new SecretKeySpec(key, "ChaCha20"), new IvParameterSpec(nonce));
            } else {
                c = Cipher.getInstance("AES/GCM/NoPadding");
                c.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
            }
            return c;
        }

        /**
         * A record of {@code content} and inner type {@code type} at the next sequence number, however
         * long (so one beyond what TLS allows too).
         */
        byte[] seal(byte[] content, int type) throws GeneralSecurityException {
            int len = content.length + 1 + 16;
            byte[] header = {23, 3, 3, (byte) (len >>> 8), (byte) len};
            Cipher c = cipher(Cipher.ENCRYPT_MODE, sequence++);
            c.updateAAD(header);
            byte[] inner = Arrays.copyOf(content, content.length + 1);
            inner[content.length] = (byte) type;
            byte[] body = c.doFinal(inner);
            return ByteBuffer.allocate(5 + body.length).put(header).put(body).array();
        }

        /** The record opened at the next sequence number, or null (and no step) when it does not. */
        Inner open(Record r) throws GeneralSecurityException {
            Cipher c = cipher(Cipher.DECRYPT_MODE, sequence);
            c.updateAAD(r.header());
            byte[] inner;
            try {
                inner = c.doFinal(r.body());
            } catch (javax.crypto.AEADBadTagException notThisKey) {
                return null;
            }
            sequence++;
            int end = inner.length;
            while (end > 0 && inner[end - 1] == 0) {
                end--;
            }
            if (end == 0) {
                throw new AssertionError("an inner plaintext of padding only");
            }
            return new Inner(inner[end - 1] & 0xff, Arrays.copyOf(inner, end - 1));
        }
    }

    /** The two application traffic secrets from an NSS key log (one connection's). */
    static byte[][] keyLog(Path file) throws IOException {
        byte[][] out = new byte[2][];
        for (String line : Files.readAllLines(file)) {
            String[] w = line.trim().split("\\s+");
            if (w.length == 3 && w[0].equals("CLIENT_TRAFFIC_SECRET_0")) {
                out[0] = HexFormat.of().parseHex(w[2]);
            } else if (w.length == 3 && w[0].equals("SERVER_TRAFFIC_SECRET_0")) {
                out[1] = HexFormat.of().parseHex(w[2]);
            }
        }
        if (out[0] == null || out[1] == null) {
            throw new AssertionError("no traffic secrets in the key log " + file + ":\n" + Files.readString(file));
        }
        return out;
    }
}
