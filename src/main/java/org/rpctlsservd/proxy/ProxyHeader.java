package org.rpctlsservd.proxy;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * HAProxy's PROXY protocol, versions 1 (text) and 2 (binary), as its specification
 * (proxy-protocol.txt) defines them: reading the header a load balancer puts in front of a
 * connection, and writing one in front of a backend connection, with the TLS TLVs of version 2.
 * Hand-written: a fixed layout of a few dozen bytes; Netty's codec would bring its channel
 * pipeline for it.
 */
public final class ProxyHeader {
    /** The version 2 signature. */
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static final byte[] V1_SIGNATURE = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    /** Version 1's longest line, CRLF included. */
    static final int V1_MAX = 107;
    /** The most of version 2 we take: 16 bytes of header and 4 KiB of addresses and TLVs. */
    public static final int V2_MAX = 16 + 4096;

    static final int PP2_TYPE_ALPN = 0x01;
    static final int PP2_TYPE_SSL = 0x20;
    static final int PP2_SUBTYPE_SSL_VERSION = 0x21;
    static final int PP2_SUBTYPE_SSL_CN = 0x22;
    static final int PP2_CLIENT_SSL = 0x01;
    static final int PP2_CLIENT_CERT_CONN = 0x02;
    static final int PP2_CLIENT_CERT_SESS = 0x04;

    private ProxyHeader() {
    }

    /**
     * A header read: the client's address and the one it connected to; both null for a LOCAL
     * connection (the balancer's own health check) or an UNKNOWN one. {@code length} bytes were it.
     */
    public record Parsed(InetSocketAddress source, InetSocketAddress destination, int length) {
    }

    /** Thrown for a header that is not one. */
    public static final class BadHeaderException extends IOException {
        private static final long serialVersionUID = 1L;

        BadHeaderException(String message) {
            super(message);
        }
    }

    /**
     * True when the bytes from {@code b}'s position are, as far as they go, the start of a PROXY
     * header of either version (no RPC record mark begins so: its length would be past any limit).
     */
    public static boolean startsLikeOne(ByteBuffer b) {
        return b.hasRemaining() && (prefixOf(b, V1_SIGNATURE) || prefixOf(b, V2_SIGNATURE));
    }

    private static boolean prefixOf(ByteBuffer b, byte[] signature) {
        int n = Math.min(b.remaining(), signature.length);
        for (int i = 0; i < n; i++) {
            if (b.get(b.position() + i) != signature[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The header at {@code b}'s position, or null when more bytes are needed; {@code b} is not
     * moved. Anything else but a well-formed header of either version is refused.
     */
    public static Parsed parse(ByteBuffer b) throws BadHeaderException {
        if (!startsLikeOne(b)) {
            throw new BadHeaderException("no PROXY protocol signature");
        }
        if (prefixOf(b, V1_SIGNATURE)) {
            return b.remaining() < V1_SIGNATURE.length ? null : parseV1(b);
        }
        return b.remaining() < 16 ? null : parseV2(b);
    }

    private static Parsed parseV1(ByteBuffer b) throws BadHeaderException {
        int end = -1;
        for (int i = 0; i < Math.min(b.remaining(), V1_MAX) - 1; i++) {
            if (b.get(b.position() + i) == '\r' && b.get(b.position() + i + 1) == '\n') {
                end = i;
                break;
            }
        }
        if (end < 0) {
            if (b.remaining() >= V1_MAX) {
                throw new BadHeaderException("version 1 header longer than " + V1_MAX + " bytes");
            }
            return null;
        }
        byte[] line = new byte[end];
        for (int i = 0; i < end; i++) {
            byte c = b.get(b.position() + i);
            if (c < 0x20 || c > 0x7e) {
                throw new BadHeaderException("version 1 header with a byte that is not printable ASCII");
            }
            line[i] = c;
        }
        String[] f = new String(line, StandardCharsets.US_ASCII).split(" ", -1);
        int length = end + 2;
        if (f.length >= 2 && f[1].equals("UNKNOWN")) {
            return new Parsed(null, null, length);
        }
        if (f.length != 6 || !(f[1].equals("TCP4") || f[1].equals("TCP6"))) {
            throw new BadHeaderException("malformed version 1 header");
        }
        boolean v6 = f[1].equals("TCP6");
        return new Parsed(new InetSocketAddress(v1Address(f[2], v6), v1Port(f[4])),
                new InetSocketAddress(v1Address(f[3], v6), v1Port(f[5])), length);
    }

    /**
     * The address field of a version 1 line, as a literal only (the specification's canonical forms,
     * {@link IpLiteral}): anything else is refused here, never looked up, since this runs on an event loop.
     */
    private static InetAddress v1Address(String s, boolean v6) throws BadHeaderException {
        try {
            return v6 ? IpLiteral.ipv6(s) : IpLiteral.ipv4(s);
        } catch (IpLiteral.NotALiteral e) {
            throw new BadHeaderException("bad address in version 1 header: " + s + " (" + (v6 ? "TCP6" : "TCP4") + ", " + e.getMessage() + ")");
        }
    }

    private static int v1Port(String s) throws BadHeaderException {
        if (s.matches("[0-9]{1,5}")) {
            int p = Integer.parseInt(s);
            if (p <= 65535) {
                return p;
            }
        }
        throw new BadHeaderException("bad port in version 1 header: " + s);
    }

    private static Parsed parseV2(ByteBuffer b) throws BadHeaderException {
        int p = b.position();
        int verCmd = b.get(p + 12) & 0xff;
        int fam = b.get(p + 13) & 0xff;
        int len = b.getShort(p + 14) & 0xffff;
        if ((verCmd >> 4) != 2) {
            throw new BadHeaderException("version 2 signature with version " + (verCmd >> 4));
        }
        int cmd = verCmd & 0x0f;
        if (cmd > 1) {
            throw new BadHeaderException("version 2 header with unknown command " + cmd);
        }
        if (16 + len > V2_MAX) {
            throw new BadHeaderException("version 2 header of " + (16 + len) + " bytes, more than " + V2_MAX);
        }
        if (b.remaining() < 16 + len) {
            return null;
        }
        int total = 16 + len;
        if (cmd == 0) {
            return new Parsed(null, null, total); // LOCAL: the balancer's own connection
        }
        int family = fam >> 4;
        int transport = fam & 0x0f;
        if (family == 0) {
            return new Parsed(null, null, total); // AF_UNSPEC
        }
        if (transport != 1 || (family != 1 && family != 2)) {
            throw new BadHeaderException("version 2 header for an address family or transport other than TCP over IPv4 or IPv6");
        }
        int alen = family == 1 ? 4 : 16;
        if (len < 2 * alen + 4) {
            throw new BadHeaderException("version 2 header too short for its addresses");
        }
        byte[] src = new byte[alen];
        byte[] dst = new byte[alen];
        for (int i = 0; i < alen; i++) {
            src[i] = b.get(p + 16 + i);
            dst[i] = b.get(p + 16 + alen + i);
        }
        int sport = b.getShort(p + 16 + 2 * alen) & 0xffff;
        int dport = b.getShort(p + 16 + 2 * alen + 2) & 0xffff;
        try {
            return new Parsed(new InetSocketAddress(InetAddress.getByAddress(src), sport),
                    new InetSocketAddress(InetAddress.getByAddress(dst), dport), total);
        } catch (UnknownHostException e) {
            throw new BadHeaderException("bad address in version 2 header");
        }
    }

    // ---- writing ----

    /** What version 2 says of the client's TLS: null for a connection in clear text. */
    public record Tls(String version, boolean certificate, boolean verified, String commonName, String alpn) {
    }

    /** A version 1 line for a connection from {@code src} to {@code dst}. */
    public static byte[] v1(InetSocketAddress src, InetSocketAddress dst) {
        InetAddress s = src.getAddress();
        InetAddress d = dst.getAddress();
        boolean v6 = s instanceof Inet6Address || d instanceof Inet6Address;
        String line = "PROXY " + (v6 ? "TCP6 " : "TCP4 ") + text(s, v6) + " " + text(d, v6) + " " + src.getPort() + " "
                + dst.getPort() + "\r\n";
        return line.getBytes(StandardCharsets.US_ASCII);
    }

    private static String text(InetAddress a, boolean v6) {
        if (v6 && a instanceof Inet4Address) {
            return "::ffff:" + a.getHostAddress();
        }
        String h = a.getHostAddress();
        int zone = h.indexOf('%');
        return zone < 0 ? h : h.substring(0, zone);
    }

    /** A version 2 header (command PROXY, TCP) for a connection from {@code src} to {@code dst}, with the TLS TLVs. */
    public static byte[] v2(InetSocketAddress src, InetSocketAddress dst, Tls tls) {
        boolean v6 = src.getAddress() instanceof Inet6Address || dst.getAddress() instanceof Inet6Address;
        ByteBuffer tlvs = ByteBuffer.allocate(1024);
        if (tls != null) {
            if (tls.alpn() != null) {
                tlv(tlvs, PP2_TYPE_ALPN, tls.alpn().getBytes(StandardCharsets.US_ASCII));
            }
            ByteBuffer ssl = ByteBuffer.allocate(512);
            int client = PP2_CLIENT_SSL | (tls.certificate() ? PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS : 0);
            ssl.put((byte) client).putInt(tls.certificate() && tls.verified() ? 0 : 1);
            tlv(ssl, PP2_SUBTYPE_SSL_VERSION, tls.version().getBytes(StandardCharsets.US_ASCII));
            if (tls.commonName() != null) {
                byte[] cn = tls.commonName().getBytes(StandardCharsets.UTF_8);
                tlv(ssl, PP2_SUBTYPE_SSL_CN, java.util.Arrays.copyOf(cn, Math.min(cn.length, 255)));
            }
            tlv(tlvs, PP2_TYPE_SSL, java.util.Arrays.copyOf(ssl.array(), ssl.position()));
        }
        int alen = v6 ? 16 : 4;
        ByteBuffer out = ByteBuffer.allocate(16 + 2 * alen + 4 + tlvs.position());
        out.put(V2_SIGNATURE).put((byte) 0x21).put((byte) (v6 ? 0x21 : 0x11)).putShort((short) (2 * alen + 4 + tlvs.position()));
        out.put(raw(src.getAddress(), v6)).put(raw(dst.getAddress(), v6));
        out.putShort((short) src.getPort()).putShort((short) dst.getPort());
        out.put(tlvs.array(), 0, tlvs.position());
        return out.array();
    }

    private static void tlv(ByteBuffer to, int type, byte[] value) {
        to.put((byte) type).putShort((short) value.length).put(value);
    }

    /** The address in {@code v6 ? 16 : 4} bytes (an IPv4 address beside an IPv6 one is written IPv4-mapped). */
    private static byte[] raw(InetAddress a, boolean v6) {
        byte[] b = a.getAddress();
        if (v6 && b.length == 4) {
            byte[] m = new byte[16];
            m[10] = (byte) 0xff;
            m[11] = (byte) 0xff;
            System.arraycopy(b, 0, m, 12, 4);
            return m;
        }
        return b;
    }
}
