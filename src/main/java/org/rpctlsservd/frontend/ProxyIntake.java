package org.rpctlsservd.frontend;

import java.nio.ByteBuffer;
import org.rpctlsservd.proxy.ProxyHeader;

/**
 * The first stage of a client connection, before any RPC: from a trusted balancer
 * (--accept-proxy-from) its PROXY header, read whole, however the bytes come; from anyone else,
 * no PROXY signature at all. Bytes in, a verdict out: no socket, no timer (the connection keeps
 * the deadline), so it is tested on its own.
 */
final class ProxyIntake {
    /** What the bytes so far decide. */
    enum Verdict {
        /** A header has begun and more of it is needed. */
        MORE,
        /** The header is whole ({@link #header()}); what follows it is the client's ({@link #rest()}). */
        DONE,
        /** Not a header ({@link #problem()}), from a trusted peer. */
        BAD,
        /** A PROXY signature from a peer that is not trusted to send one. */
        NOT_BELIEVED,
        /** An untrusted peer's first bytes, which are its own: nothing to do here. */
        PASS
    }

    private final boolean trusted;
    private ByteBuffer in;
    private ProxyHeader.Parsed header;
    private ByteBuffer rest;
    private String problem;

    ProxyIntake(boolean trusted) {
        this.trusted = trusted;
    }

    /** True when a header must come first (a trusted peer's connection). */
    boolean expectsHeader() {
        return trusted;
    }

    /**
     * The first bytes of the connection (a trusted peer's, until a verdict other than MORE);
     * {@code buf} is consumed as far as this stage takes it.
     */
    Verdict offer(ByteBuffer buf) {
        if (!trusted) {
            return ProxyHeader.startsLikeOne(buf) ? Verdict.NOT_BELIEVED : Verdict.PASS;
        }
        if (in == null) {
            in = ByteBuffer.allocate(ProxyHeader.V2_MAX);
        }
        int take = Math.min(buf.remaining(), in.remaining());
        ByteBuffer part = buf.slice();
        part.limit(take);
        in.put(part);
        buf.position(buf.position() + take);
        if (in.position() == 0) {
            return Verdict.MORE; // nothing has come yet (the first read is tried before any wait)
        }
        in.flip();
        ProxyHeader.Parsed h;
        try {
            h = ProxyHeader.parse(in);
        } catch (ProxyHeader.BadHeaderException e) {
            problem = e.getMessage();
            return Verdict.BAD;
        }
        if (h == null) {
            in.position(in.limit()).limit(in.capacity());
            return Verdict.MORE;
        }
        header = h;
        in.position(h.length());
        rest = in;
        in = null;
        return Verdict.DONE;
    }

    /** After DONE: the header read (its source is null for a balancer's own LOCAL connection). */
    ProxyHeader.Parsed header() {
        return header;
    }

    /** After DONE: the client's bytes that came with the header. */
    ByteBuffer rest() {
        return rest;
    }

    /** After BAD: why. */
    String problem() {
        return problem;
    }
}
