package org.rpctlsservd.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The PROXY protocol header, read and written, from bytes: no sockets. */
class ProxyHeaderTest {
    static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    static InetSocketAddress at(String ip, int port) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), port);
    }

    @Test
    void version1() throws Exception {
        ProxyHeader.Parsed p = ProxyHeader.parse(ascii("PROXY TCP4 192.0.2.7 198.51.100.1 40000 2049\r\nrest"));
        assertEquals(at("192.0.2.7", 40000), p.source());
        assertEquals(at("198.51.100.1", 2049), p.destination());
        assertEquals(46, p.length());
        ProxyHeader.Parsed six = ProxyHeader.parse(ascii("PROXY TCP6 2001:db8::7 2001:db8::1 40000 2049\r\n"));
        assertEquals(at("2001:db8::7", 40000), six.source());
        ProxyHeader.Parsed unknown = ProxyHeader.parse(ascii("PROXY UNKNOWN\r\n"));
        assertNull(unknown.source());
        assertEquals(15, unknown.length());
        assertNull(ProxyHeader.parse(ascii("PROXY TCP4 192.0.2.7 198.51")), "not whole yet");
        assertNull(ProxyHeader.parse(ascii("PRO")), "not whole yet");
    }

    @Test
    void version1Refusals() {
        for (String bad : new String[] {"PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 40000 99999\r\n",
            "PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n", "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
            "PROXY TCP4 example.org 198.51.100.1 1 2\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\u0001\r\n",
            "PROXY " + "x".repeat(120)}) {
            assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ascii(bad)), bad);
        }
        assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ByteBuffer.wrap(new byte[] {(byte) 0x80, 0, 0, 40})),
                "an RPC record is not a PROXY header");
    }

    /** Each bad address literal of a version 1 line, with the words its refusal must carry. */
    private static final String[][] BAD_V1_ADDRESSES = {
        {"TCP4", "999.999.999.1", "a number above 255"},
        {"TCP4", "256.0.0.1", "a number above 255"},
        {"TCP4", "1.2.3", "not four decimal numbers"},
        {"TCP4", "1.2.3.4.5", "not four decimal numbers"},
        {"TCP4", "1.2.3.", "not four decimal numbers"},
        {"TCP4", "01.2.3.4", "leading zero"},
        {"TCP4", "10.0.0.010", "leading zero"},
        {"TCP4", "0x7f.0.0.1", "not four decimal numbers"},
        {"TCP4", "+1.2.3.4", "not four decimal numbers"},
        {"TCP4", "example.org", "not four decimal numbers"},
        {"TCP4", "localhost", "not four decimal numbers"},
        {"TCP4", "cafe", "not four decimal numbers"},
        {"TCP4", "2001:db8::7", "not four decimal numbers"},
        {"TCP6", "2001:db8::7::1", "more than one ::"},
        {"TCP6", "1:::2", "more than one ::"},
        {"TCP6", "12345::", "`12345' is not a group"},
        {"TCP6", "g::", "`g' is not a group"},
        {"TCP6", ":1::", "`' is not a group"},
        {"TCP6", "fe80::1%eth0", "is not a group"},
        {"TCP6", "[::1]", "is not a group"},
        {"TCP6", "1:2:3:4:5:6:7:8:9", "9 groups of 16 bits, not 8"},
        {"TCP6", "1:2:3:4:5:6:7", "7 groups of 16 bits, not 8"},
        {"TCP6", "1:2:3:4::5:6:7:8", "more than 7 groups beside ::"},
        {"TCP6", "cafe", "no colon"},
        {"TCP6", "::ffff:1.2.3.256", "its IPv4 part: a number above 255"},
        {"TCP6", "::ffff:01.2.3.4", "its IPv4 part: a number with a leading zero"},
        {"TCP6", "1.2.3.4::", "is not a group"},
        {"TCP6", "localhost", "no colon"},
        {"TCP6", "192.0.2.7", "no colon"},
    };

    @Test
    void version1AddressesAreLiteralsOnlyAndABadOneIsRefusedWithTheReason() {
        for (String[] bad : BAD_V1_ADDRESSES) {
            for (boolean source : new boolean[] {true, false}) {
                String good = bad[0].equals("TCP4") ? "192.0.2.7" : "2001:db8::7";
                String line = "PROXY " + bad[0] + " " + (source ? bad[1] + " " + good : good + " " + bad[1]) + " 40000 2049\r\n";
                ProxyHeader.BadHeaderException e = assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ascii(line)), line);
                String want = "bad address in version 1 header: " + bad[1] + " (" + bad[0] + ", ";
                assertTrue(e.getMessage().startsWith(want) && e.getMessage().contains(bad[2]), line + " gave: " + e.getMessage());
            }
        }
    }

    @Test
    void version1TakesEveryCanonicalForm() throws Exception {
        String[][] good = {
            {"TCP4", "0.0.0.0", "0.0.0.0"},
            {"TCP4", "255.255.255.255", "255.255.255.255"},
            {"TCP4", "10.0.0.100", "10.0.0.100"},
            {"TCP6", "::", "::"},
            {"TCP6", "::1", "::1"},
            {"TCP6", "2001:DB8::A", "2001:db8::a"},
            {"TCP6", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
            {"TCP6", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
            {"TCP6", "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
            {"TCP6", "1:2:3:4:5:6:192.0.2.7", "1:2:3:4:5:6:c000:207"},
            {"TCP6", "::ffff:192.0.2.7", "192.0.2.7"}, // IPv4-mapped: the IPv4 address, as the JDK gives it
        };
        for (String[] g : good) {
            ProxyHeader.Parsed p = ProxyHeader.parse(ascii("PROXY " + g[0] + " " + g[1] + " " + g[1] + " 1 2\r\n"));
            assertEquals(InetAddress.getByName(g[2]), p.source().getAddress(), g[1]);
            assertEquals(p.source().getAddress(), p.destination().getAddress(), g[1]);
        }
        // what this writer sends for mixed families, its own parser takes back
        InetSocketAddress src = at("192.0.2.7", 40000);
        ProxyHeader.Parsed mixed = ProxyHeader.parse(ByteBuffer.wrap(ProxyHeader.v1(src, at("2001:db8::1", 2049))));
        assertEquals(src, mixed.source());
        assertEquals(at("2001:db8::1", 2049), mixed.destination());
    }

    @Test
    void version2() throws Exception {
        // The specification's example layout: PROXY, TCP over IPv4, 12 bytes of addresses.
        byte[] h = HexFormat.of().parseHex("0d0a0d0a000d0a515549540a" + "21" + "11" + "000c" + "c0000207" + "c6336401" + "9c40" + "0801");
        ProxyHeader.Parsed p = ProxyHeader.parse(ByteBuffer.wrap(h));
        assertEquals(at("192.0.2.7", 40000), p.source());
        assertEquals(at("198.51.100.1", 2049), p.destination());
        assertEquals(28, p.length());
        assertNull(ProxyHeader.parse(ByteBuffer.wrap(h, 0, 20)), "not whole yet");
        byte[] local = HexFormat.of().parseHex("0d0a0d0a000d0a515549540a" + "20" + "00" + "0000");
        assertNull(ProxyHeader.parse(ByteBuffer.wrap(local)).source(), "LOCAL: the balancer's own check");
        byte[] v3 = h.clone();
        v3[12] = 0x31;
        assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ByteBuffer.wrap(v3)));
        byte[] udp = h.clone();
        udp[13] = 0x12;
        assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ByteBuffer.wrap(udp)));
        byte[] huge = h.clone();
        huge[14] = (byte) 0xff;
        assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ByteBuffer.wrap(huge)), "past the bound");
        byte[] shortAddr = HexFormat.of().parseHex("0d0a0d0a000d0a515549540a" + "21" + "11" + "0004" + "c0000207");
        assertThrows(ProxyHeader.BadHeaderException.class, () -> ProxyHeader.parse(ByteBuffer.wrap(shortAddr)));
    }

    @Test
    void signatures() {
        assertTrue(ProxyHeader.startsLikeOne(ascii("PROX")));
        assertTrue(ProxyHeader.startsLikeOne(ByteBuffer.wrap(new byte[] {0x0d, 0x0a, 0x0d})));
        assertFalse(ProxyHeader.startsLikeOne(ByteBuffer.wrap(new byte[] {(byte) 0x80, 0, 0, 40})));
        assertFalse(ProxyHeader.startsLikeOne(ascii("PRX")));
    }

    @Test
    void writtenHeadersReadBack() throws Exception {
        InetSocketAddress src = at("192.0.2.7", 40000);
        InetSocketAddress dst = at("198.51.100.1", 2049);
        assertEquals("PROXY TCP4 192.0.2.7 198.51.100.1 40000 2049\r\n", new String(ProxyHeader.v1(src, dst), StandardCharsets.US_ASCII));
        assertEquals("PROXY TCP6 ::ffff:192.0.2.7 2001:db8:0:0:0:0:0:1 40000 2049\r\n",
                new String(ProxyHeader.v1(src, at("2001:db8::1", 2049)), StandardCharsets.US_ASCII), "mixed families: IPv4-mapped");
        byte[] v2 = ProxyHeader.v2(src, dst, null);
        assertArrayEquals(HexFormat.of().parseHex("0d0a0d0a000d0a515549540a2111000cc0000207c63364019c400801"), v2);
        ProxyHeader.Parsed p = ProxyHeader.parse(ByteBuffer.wrap(v2));
        assertEquals(src, p.source());
        assertEquals(dst, p.destination());
    }

    @Test
    void version2CarriesTheTlsTlvs() {
        byte[] v2 = ProxyHeader.v2(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1), new InetSocketAddress(
                InetAddress.getLoopbackAddress(), 2), new ProxyHeader.Tls("TLSv1.3", true, true, "alice", "sunrpc"));
        ByteBuffer b = ByteBuffer.wrap(v2);
        int len = b.getShort(14) & 0xffff;
        assertEquals(v2.length, 16 + len);
        b.position(16 + 12);
        // PP2_TYPE_ALPN "sunrpc"
        assertEquals(0x01, b.get());
        assertEquals(6, b.getShort());
        byte[] alpn = new byte[6];
        b.get(alpn);
        assertEquals("sunrpc", new String(alpn, StandardCharsets.US_ASCII));
        // PP2_TYPE_SSL: client SSL|CERT_CONN|CERT_SESS, verify 0, then VERSION and CN
        assertEquals(0x20, b.get());
        int sslLen = b.getShort();
        assertEquals(0x07, b.get());
        assertEquals(0, b.getInt());
        assertEquals(0x21, b.get());
        byte[] version = new byte[b.getShort()];
        b.get(version);
        assertEquals("TLSv1.3", new String(version, StandardCharsets.US_ASCII));
        assertEquals(0x22, b.get());
        byte[] cn = new byte[b.getShort()];
        b.get(cn);
        assertEquals("alice", new String(cn, StandardCharsets.UTF_8));
        assertEquals(1 + 4 + 3 + 7 + 3 + 5, sslLen);
        assertFalse(b.hasRemaining());
        ByteBuffer plain = ByteBuffer.wrap(ProxyHeader.v2(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 2), new ProxyHeader.Tls("TLSv1.3", false, false, null, null)));
        plain.position(28);
        assertEquals(0x20, plain.get());
        plain.getShort();
        assertEquals(0x01, plain.get(), "TLS without a client certificate");
        assertEquals(1, plain.getInt(), "verify is non-zero without a verified certificate");
    }

    @Test
    void cidrs() throws Exception {
        Cidr c = Cidr.parse("10.1.0.0/16");
        assertTrue(c.contains(InetAddress.getByName("10.1.200.3")));
        assertFalse(c.contains(InetAddress.getByName("10.2.0.1")));
        assertTrue(Cidr.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.1")));
        assertFalse(Cidr.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.9")));
        assertTrue(Cidr.parse("10.0.0.0/8").contains(InetAddress.getByName("::ffff:10.9.9.9")));
        assertTrue(Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("2001:db8:1::5")));
        assertFalse(Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("10.0.0.1")));
        assertTrue(Cidr.parse("10.0.0.0/9").contains(InetAddress.getByName("10.127.0.1")));
        assertFalse(Cidr.parse("10.0.0.0/9").contains(InetAddress.getByName("10.128.0.1")));
        for (String bad : new String[] {"10.0.0.0/33", "example.org", "10.0.0.0/x", ""}) {
            assertThrows(IllegalArgumentException.class, () -> Cidr.parse(bad), bad);
        }
        // Literals only: a name made of hex letters, or a near-miss literal, is refused with the reason, not looked up.
        String[][] near = {
            {"cafe", "not four decimal numbers"},
            {"cafe/8", "not four decimal numbers"},
            {"10.0.0.256", "a number above 255"},
            {"999.999.999.1/32", "a number above 255"},
            {"010.0.0.0/8", "leading zero"},
            {"10.1/16", "not four decimal numbers"},
            {"2001:db8::1::/64", "more than one ::"},
            {"abcde::/16", "`abcde' is not a group"},
        };
        for (String[] n : near) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(n[0]), n[0]);
            assertTrue(e.getMessage().startsWith("not an address: `" + n[0] + "' (") && e.getMessage().contains(n[1]), e.getMessage());
        }
        assertEquals("0.0.0.0/0", Cidr.parse("0.0.0.0/0").toString());
        assertEquals("2001:db8:0:0:0:0:0:0/32", Cidr.parse("2001:DB8::/32").toString());
    }
}
