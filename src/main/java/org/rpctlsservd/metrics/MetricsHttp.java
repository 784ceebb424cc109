package org.rpctlsservd.metrics;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rpctlsservd.io.Acceptor;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.io.Channels;
import org.rpctlsservd.io.IoLoop;

/**
 * The HTTP/1.1 server under {@code --metrics}: a few fixed GET and HEAD endpoints, served on one
 * event loop, so that no client holds a thread. Hand-written because the JDK's HttpServer reads a
 * request's head blocking on an executor thread (JDK 17 and 25 alike): N clients sending one byte a
 * second hold N threads, and the slowest of them decides when {@code /ready} is answered. Here:
 * <ul>
 * <li>at most {@link #MAX_CONNECTIONS} connections; one more closes the one that has waited for
 * its client the longest (a stalled or idle one; a good client's request is answered in the pass
 * that reads it, so it is never the oldest);</li>
 * <li>a request's head must arrive within {@link #REQUEST_MILLIS} of the connection (or of the
 * first byte after an answer), an answer must be taken within {@link #RESPONSE_MILLIS}, and a
 * kept-alive connection may idle {@link #IDLE_MILLIS}; past that it is closed;</li>
 * <li>a head is at most {@link #MAX_HEAD} bytes (else 431); only GET and HEAD (else 405); request
 * bodies are not read (the connection closes after the answer);</li>
 * <li>a client that resets or goes away costs one rate-limited line at FINE, never a stack trace.</li>
 * </ul>
 */
final class MetricsHttp implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    static final int MAX_CONNECTIONS = 64;
    static final long REQUEST_MILLIS = 10_000;
    static final long RESPONSE_MILLIS = 10_000;
    static final long IDLE_MILLIS = 30_000;
    /** After an answer that ends the connection: how long unread request bytes are drained, so the close is no reset. */
    static final long LINGER_MILLIS = 2_000;
    static final int MAX_HEAD = 8192;
    /** How often deadlines are looked at; they hold to this much. */
    private static final long SWEEP_MILLIS = 250;
    /** Connections one wake-up accepts at most, so that the loop also reads what they sent. */
    private static final int ACCEPT_BATCH = 16;

    /** A request's parts, as routing needs them. */
    record Request(String method, String path, String rawQuery, Map<String, List<String>> headers) {
        String header(String name) {
            List<String> v = headers.get(name);
            return v == null || v.isEmpty() ? null : v.get(0);
        }
    }

    /** An answer; {@code headers} must not carry Content-Length or Connection (set here). */
    record Answer(int status, Map<String, String> headers, byte[] body) {
        static Answer text(int status, String body) {
            return new Answer(status, Map.of("Content-Type", "text/plain; charset=us-ascii"), body.getBytes(StandardCharsets.US_ASCII));
        }
    }

    private enum State { READING, WRITING, LINGERING }

    private static final class Conn {
        final SocketChannel ch;
        final ByteBuffer in = ByteBuffer.allocate(MAX_HEAD);
        ByteBuffer out;
        State state = State.READING;
        boolean closeAfter;
        boolean open = true;
        /** Kept alive after an answer, no byte of the next request yet: the idle deadline, not the request's. */
        boolean idle;
        /** How far {@link #in} has been searched for the end of a head. */
        int scanned;
        /** When it began waiting for its client in this state: at the cap, the smallest goes. */
        long since;
        long deadline;

        Conn(SocketChannel ch, long now) {
            this.ch = ch;
            since = now;
            deadline = now + REQUEST_MILLIS;
        }
    }

    private final ServerSocketChannel listener;
    private final Acceptor acceptor;
    private final IoLoop io;
    private final ScheduledExecutorService timer;
    private final ScheduledFuture<?> sweeper;
    private final Function<Request, Answer> route;
    private final RateLimitedLog warnings = new RateLimitedLog(LOG);
    /** The loop's only (and after close, the closer's). */
    private final List<Conn> conns = new ArrayList<>();
    private volatile boolean closed;

    MetricsHttp(InetSocketAddress address, Function<Request, Answer> route, ScheduledExecutorService timer) throws IOException {
        this.route = route;
        this.timer = timer;
        listener = ServerSocketChannel.open();
        try {
            listener.bind(address, MAX_CONNECTIONS);
            acceptor = new Acceptor(listener, "metrics " + org.rpctlsservd.guard.LogText.address(listener.getLocalAddress()));
            io = new IoLoop("metrics-http");
        } catch (IOException | RuntimeException e) {
            listener.close();
            throw e;
        }
        io.submit(this::armAccept);
        sweeper = timer.scheduleWithFixedDelay(() -> io.submit(this::sweep), SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    int port() {
        return listener.socket().getLocalPort();
    }

    private static long now() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime());
    }

    private void armAccept() {
        if (!closed && listener.isOpen()) {
            io.onAcceptable(listener, this::acceptable);
        }
    }

    private void acceptable() {
        for (int i = 0; i < ACCEPT_BATCH && !closed; i++) {
            SocketChannel c;
            try {
                c = acceptor.acceptNow();
            } catch (Acceptor.Shed e) {
                try {
                    io.later(timer, Acceptor.pauseMillis(), TimeUnit.MILLISECONDS, this::armAccept);
                } catch (RejectedExecutionException stopping) {
                    // the daemon stops its timer before this server: nothing to resume
                }
                return;
            } catch (IOException e) {
                if (!closed && listener.isOpen()) {
                    warnings.warning("metrics-accept", () -> "metrics: accept failed: " + e.getMessage());
                }
                break;
            }
            if (c == null) {
                break;
            }
            admit(c);
        }
        armAccept();
    }

    private void admit(SocketChannel ch) {
        if (conns.size() >= MAX_CONNECTIONS) {
            Conn oldest = conns.get(0);
            for (Conn c : conns) {
                if (c.since < oldest.since) {
                    oldest = c;
                }
            }
            close(oldest);
            warnings.warning("metrics-cap", () -> "metrics: " + MAX_CONNECTIONS
                    + " connections open: closed the one that waited longest for its client");
        }
        Conn c = new Conn(ch, now());
        try {
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        } catch (IOException e) {
            Channels.closeQuietly(ch);
            return;
        }
        conns.add(c);
        readable(c); // what it sent already is answered now, before any later connection can push it out
    }

    private void readable(Conn c) {
        if (!c.open) {
            return;
        }
        int n;
        try {
            n = c.ch.read(c.in);
        } catch (IOException e) {
            gone(c, e);
            return;
        }
        if (n < 0) {
            close(c);
            return;
        }
        if (n > 0 && c.idle) {
            c.idle = false;
            c.deadline = now() + REQUEST_MILLIS; // the next request began: its head's deadline
        }
        serve(c);
    }

    /**
     * Answers every whole request in {@code c.in} (pipelined ones in turn, here rather than by
     * recursion), then waits for more bytes, or for the client to take an answer.
     */
    private void serve(Conn c) {
        while (c.open && c.state == State.READING) {
            int end = headEnd(c);
            if (end < 0) {
                if (!c.in.hasRemaining()) {
                    respond(c, Answer.text(431, "request head over " + MAX_HEAD + " bytes\n"), false, true);
                } else {
                    io.onReadable(c.ch, () -> readable(c));
                }
                return;
            }
            byte[] head = new byte[end];
            c.in.flip();
            c.in.get(head);
            c.in.compact();
            c.scanned = 0;
            handle(c, new String(head, StandardCharsets.ISO_8859_1));
        }
    }

    /** The index just past the blank line that ends a head in {@code c.in[0, position)}, or -1; leading blank lines are dropped. */
    private static int headEnd(Conn c) {
        ByteBuffer in = c.in;
        int start = 0;
        while (start < in.position() && (in.get(start) == '\r' || in.get(start) == '\n')) {
            start++; // RFC 9112 2.2: blank lines before a request line are ignored
        }
        if (start > 0) {
            in.flip();
            in.position(start);
            in.compact();
            c.scanned = 0;
        }
        for (int i = Math.max(2, c.scanned); i < in.position(); i++) { // a head is at least "X\n\n"
            if (in.get(i) == '\n' && (in.get(i - 1) == '\n' || (in.get(i - 1) == '\r' && in.get(i - 2) == '\n'))) {
                return i + 1;
            }
        }
        c.scanned = in.position();
        return -1;
    }

    private void handle(Conn c, String head) {
        String[] lines = head.split("\r?\n");
        String[] first = lines[0].split(" ", -1);
        if (first.length != 3 || !first[2].startsWith("HTTP/1.") || first[0].isEmpty()) {
            respond(c, Answer.text(400, "bad request line\n"), false, true);
            return;
        }
        Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0 || lines[i].charAt(0) == ' ' || lines[i].charAt(0) == '\t') {
                respond(c, Answer.text(400, "bad header line\n"), false, true);
                return;
            }
            headers.computeIfAbsent(lines[i].substring(0, colon).trim(), k -> new ArrayList<>(1)).add(lines[i].substring(colon + 1).trim());
        }
        String method = first[0];
        boolean head10 = first[2].equals("HTTP/1.0");
        String connection = String.join(",", headers.getOrDefault("Connection", List.of())).toLowerCase(Locale.ROOT);
        boolean keepAlive = head10 ? connection.contains("keep-alive") : !connection.contains("close");
        // A body is never read: the connection ends after the answer, so its bytes are not taken for a request.
        String length = String.join("", headers.getOrDefault("Content-Length", List.of())).trim();
        boolean body = headers.containsKey("Transfer-Encoding") || !(length.isEmpty() || length.equals("0"));
        boolean headOnly = method.equals("HEAD");
        if (!method.equals("GET") && !headOnly) {
            respond(c, new Answer(405, Map.of("Content-Type", "text/plain; charset=us-ascii", "Allow", "GET, HEAD"),
                    "only GET and HEAD\n".getBytes(StandardCharsets.US_ASCII)), false, true);
            return;
        }
        URI uri;
        try {
            uri = new URI(first[1]);
        } catch (URISyntaxException e) {
            respond(c, Answer.text(400, "bad request target\n"), headOnly, true);
            return;
        }
        String path = uri.getPath();
        if (path == null || !(first[1].startsWith("/") || uri.isAbsolute())) {
            respond(c, Answer.text(400, "bad request target\n"), headOnly, true);
            return;
        }
        Answer a;
        try {
            a = route.apply(new Request(method, path, uri.getRawQuery(), Collections.unmodifiableMap(headers)));
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "metrics: answering " + path, e);
            warnings.log(Level.SEVERE, "metrics-internal", () -> "metrics: answering " + path + " failed: " + e);
            a = Answer.text(500, "internal error\n");
        }
        respond(c, a, headOnly, body || !keepAlive);
    }

    private void respond(Conn c, Answer a, boolean headOnly, boolean close) {
        StringBuilder h = new StringBuilder(128).append("HTTP/1.1 ").append(a.status()).append(' ').append(reason(a.status())).append("\r\n");
        for (Map.Entry<String, String> e : a.headers().entrySet()) {
            h.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        }
        h.append("Content-Length: ").append(a.body().length).append("\r\n");
        if (close) {
            h.append("Connection: close\r\n");
        }
        byte[] head = h.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        int bodyLength = headOnly ? 0 : a.body().length;
        c.out = ByteBuffer.allocate(head.length + bodyLength).put(head).put(a.body(), 0, bodyLength).flip();
        c.closeAfter = close;
        c.state = State.WRITING;
        c.since = now();
        c.deadline = c.since + RESPONSE_MILLIS;
        flush(c); // done at once (the usual case): back to serve's loop
    }

    /** Writes what the client takes; the rest when it can take more, then serves what follows. */
    private void flush(Conn c) {
        if (!c.open) {
            return;
        }
        try {
            c.ch.write(c.out);
        } catch (IOException e) {
            gone(c, e);
            return;
        }
        if (c.out.hasRemaining()) {
            io.onWritable(c.ch, () -> {
                flush(c);
                serve(c);
            });
            return;
        }
        c.out = null;
        long now = now();
        c.since = now;
        if (c.closeAfter) {
            linger(c, now);
            return;
        }
        c.state = State.READING;
        // bytes already here are a pipelined request: its head's deadline; else the idle one
        c.idle = c.in.position() == 0;
        c.deadline = now + (c.idle ? IDLE_MILLIS : REQUEST_MILLIS);
    }

    /** Ends the sending side and drains what the client still sends, so the answer it has not read yet is not reset away. */
    private void linger(Conn c, long now) {
        c.state = State.LINGERING;
        c.deadline = now + LINGER_MILLIS;
        try {
            c.ch.shutdownOutput();
        } catch (IOException e) {
            close(c);
            return;
        }
        drain(c);
    }

    private void drain(Conn c) {
        if (!c.open) {
            return;
        }
        try {
            int n;
            do {
                c.in.clear();
                n = c.ch.read(c.in);
            } while (n > 0);
            if (n < 0) {
                close(c);
                return;
            }
        } catch (IOException e) {
            close(c);
            return;
        }
        io.onReadable(c.ch, () -> drain(c));
    }

    private void sweep() {
        long now = now();
        for (Conn c : new ArrayList<>(conns)) {
            if (now - c.deadline >= 0) {
                if (c.state != State.LINGERING) {
                    warnings.log(Level.FINE, "metrics-deadline", () -> "metrics: closed a connection whose client took too long ("
                            + (c.state == State.WRITING ? "to read the answer" : "to send a request") + ")");
                }
                close(c);
            }
        }
    }

    /** The client reset or went away: nothing to report but, with -v, a rate-limited line. */
    private void gone(Conn c, IOException e) {
        warnings.log(Level.FINE, "metrics-io", () -> "metrics: a client went away: " + e.getMessage());
        close(c);
    }

    private void close(Conn c) {
        if (c.open) {
            c.open = false;
            conns.remove(c);
            Channels.closeQuietly(c.ch);
        }
    }

    private static String reason(int status) {
        switch (status) {
            case 200: return "OK";
            case 400: return "Bad Request";
            case 404: return "Not Found";
            case 405: return "Method Not Allowed";
            case 406: return "Not Acceptable";
            case 431: return "Request Header Fields Too Large";
            case 500: return "Internal Server Error";
            case 503: return "Service Unavailable";
            default: return "Status";
        }
    }

    @Override
    public void close() {
        closed = true;
        sweeper.cancel(false);
        io.close(); // its thread ends: what it owned is closed here
        Channels.closeQuietly(listener);
        for (Conn c : new ArrayList<>(conns)) {
            close(c);
        }
    }
}
