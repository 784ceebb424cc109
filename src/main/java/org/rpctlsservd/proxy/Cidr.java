package org.rpctlsservd.proxy;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An address block, {@code 10.0.0.0/8} or {@code 2001:db8::/32} (a bare address is one host). */
public record Cidr(byte[] network, int prefix) {
    public Cidr {
        network = network.clone();
    }

    /** Parses ADDR[/BITS]; IllegalArgumentException with the reason when it is not one. */
    public static Cidr parse(String s) {
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        if (addr.isEmpty() || !addr.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
            throw new IllegalArgumentException("not an address: `" + s + "'");
        }
        byte[] a;
        try {
            // a literal or nothing: a typo ("cafe", 10.0.0.256) must not become a DNS look-up
            a = IpLiteral.either(addr).getAddress();
        } catch (IpLiteral.NotALiteral e) {
            throw new IllegalArgumentException("not an address: `" + s + "' (" + e.getMessage() + ")");
        }
        int bits = a.length * 8;
        if (slash >= 0) {
            try {
                bits = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                bits = -1;
            }
            if (bits < 0 || bits > a.length * 8) {
                throw new IllegalArgumentException("bad prefix length in `" + s + "'");
            }
        }
        return new Cidr(a, bits);
    }

    /** True when {@code ip} is in the block (IPv4-mapped IPv6 addresses count as IPv4). */
    public boolean contains(InetAddress ip) {
        byte[] a = ip.getAddress();
        if (a.length == 16 && network.length == 4 && isV4Mapped(a)) {
            a = java.util.Arrays.copyOfRange(a, 12, 16);
        }
        if (a.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (a[full] & mask) == (network[full] & mask);
    }

    private static boolean isV4Mapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
        } catch (UnknownHostException e) {
            return "?/" + prefix;
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && java.util.Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(network) * 31 + prefix;
    }
}
