package org.rpctlsservd.proxy;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IP address literals, text to address, with no name service in the way: what does not parse is
 * refused here, never handed to {@link InetAddress#getByName}, which asks DNS for anything it does
 * not take for a literal (999.999.999.1, "cafe"), on whatever thread called it.
 *
 * <p>IPv4: exactly four decimal numbers 0 to 255 with one dot between each, no leading zero (the
 * PROXY protocol's rule, and glibc inet_pton's: 010 could mean 8 or 10), so 1.2.3, 1.2.3.4.5, 0x7f.1
 * and 01.2.3.4 are refused. IPv6: RFC 4291's text forms, as inet_pton takes them: eight groups of
 * one to four hex digits, at most one "::" for one or more zero groups, the last 32 bits optionally
 * as such a dotted quad; no zone (%eth0), no brackets. An IPv4-mapped IPv6 literal comes back as the
 * IPv4 address (InetAddress does so, and the kernel reports such peers so). Hand-written: Bouncy
 * Castle's IPAddress only says yes or no (and says no to 1:2:3:4:5:6:7::), the JDK's parser is
 * internal, and the bytes are a few lines from the checks.
 */
public final class IpLiteral {
    private IpLiteral() {
    }

    /** Thrown with the reason, to be put after the text that was refused. */
    public static final class NotALiteral extends Exception {
        private static final long serialVersionUID = 1L;

        NotALiteral(String reason) {
            super(reason);
        }
    }

    /** The IPv4 address {@code s} spells, in the strict dotted-quad form above. */
    public static InetAddress ipv4(String s) throws NotALiteral {
        return address(ipv4Bytes(s));
    }

    /** The IPv6 address {@code s} spells (an Inet4Address for an IPv4-mapped one). */
    public static InetAddress ipv6(String s) throws NotALiteral {
        return address(ipv6Bytes(s));
    }

    /** Either: IPv6 when {@code s} has a colon, IPv4 otherwise. */
    public static InetAddress either(String s) throws NotALiteral {
        return s.indexOf(':') >= 0 ? ipv6(s) : ipv4(s);
    }

    private static InetAddress address(byte[] b) {
        try {
            return InetAddress.getByAddress(b); // bytes, no host name: nothing to look up
        } catch (UnknownHostException e) {
            throw new AssertionError("4 or 16 bytes", e);
        }
    }

    static byte[] ipv4Bytes(String s) throws NotALiteral {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            throw new NotALiteral("not four decimal numbers with a dot between each");
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new NotALiteral("not four decimal numbers with a dot between each");
            }
            if (p.length() > 1 && p.charAt(0) == '0') {
                throw new NotALiteral("a number with a leading zero (octal or decimal?)");
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                throw new NotALiteral("a number above 255");
            }
            out[i] = (byte) v;
        }
        return out;
    }

    static byte[] ipv6Bytes(String s) throws NotALiteral {
        if (s.indexOf(':') < 0) {
            throw new NotALiteral("not an IPv6 address: no colon");
        }
        int gap = s.indexOf("::");
        if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) {
            throw new NotALiteral("not an IPv6 address: more than one ::");
        }
        int[] head = groups(gap < 0 ? s : s.substring(0, gap), gap < 0);
        int[] tail = gap < 0 ? new int[0] : groups(s.substring(gap + 2), true);
        int n = head.length + tail.length;
        if (gap < 0 ? n != 8 : n > 7) {
            throw new NotALiteral("not an IPv6 address: " + (gap < 0 ? n + " groups of 16 bits, not 8" : "more than 7 groups beside ::"));
        }
        byte[] out = new byte[16];
        for (int i = 0; i < head.length; i++) {
            out[2 * i] = (byte) (head[i] >> 8);
            out[2 * i + 1] = (byte) head[i];
        }
        for (int i = 0; i < tail.length; i++) {
            int at = 8 - tail.length + i;
            out[2 * at] = (byte) (tail[i] >> 8);
            out[2 * at + 1] = (byte) tail[i];
        }
        return out;
    }

    /** The 16-bit groups of {@code part} (colon-separated; a dotted quad, only {@code last}, counts as two). */
    private static int[] groups(String part, boolean last) throws NotALiteral {
        if (part.isEmpty()) {
            return new int[0];
        }
        String[] g = part.split(":", -1);
        boolean quad = last && g[g.length - 1].indexOf('.') >= 0;
        int[] out = new int[g.length + (quad ? 1 : 0)];
        for (int i = 0; i < g.length; i++) {
            String x = g[i];
            if (quad && i == g.length - 1) {
                byte[] v4;
                try {
                    v4 = ipv4Bytes(x);
                } catch (NotALiteral e) {
                    throw new NotALiteral("not an IPv6 address: its IPv4 part: " + e.getMessage());
                }
                out[i] = (v4[0] & 0xff) << 8 | (v4[1] & 0xff);
                out[i + 1] = (v4[2] & 0xff) << 8 | (v4[3] & 0xff);
                break;
            }
            if (x.isEmpty() || x.length() > 4 || !x.chars().allMatch(IpLiteral::hex)) {
                throw new NotALiteral("not an IPv6 address: `" + x + "' is not a group of one to four hex digits");
            }
            out[i] = Integer.parseInt(x, 16);
        }
        return out;
    }

    private static boolean hex(int c) {
        return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
    }
}
