package org.rpctlsservd.guard;

import java.io.EOFException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.InterruptedByTimeoutException;
import java.util.concurrent.TimeoutException;

/**
 * How log lines write what an administrator acts on: addresses as {@code ip:port} and
 * {@code [ipv6]:port} (never Java's {@code /127.0.0.1:20049}), failures in words (never
 * {@code null}), and RFC 5531 reply statuses by name and meaning (never a bare number).
 */
public final class LogText {
    private LogText() {
    }

    /** {@code ip:port}, an IPv6 address in brackets; a Unix-domain socket's path; "?" for none. */
    public static String address(SocketAddress a) {
        if (a instanceof InetSocketAddress i) {
            if (i.getAddress() == null) {
                return i.getHostString() + ":" + i.getPort(); // unresolved: the name as given
            }
            return ip(i.getAddress()) + ":" + i.getPort();
        }
        if (a instanceof UnixDomainSocketAddress u) {
            return u.getPath().toString();
        }
        return a == null ? "?" : a.toString();
    }

    /** An address alone: {@code 192.0.2.1}, {@code [2001:db8::1]}. */
    public static String ip(InetAddress a) {
        if (a == null) {
            return "?";
        }
        return a instanceof Inet6Address ? "[" + ipv6(a.getAddress(), ((Inet6Address) a).getScopeId()) + "]" : a.getHostAddress();
    }

    /**
     * RFC 5952's text for an IPv6 address ({@code ::1}, {@code 2001:db8::5}): the JDK writes every
     * group ({@code 0:0:0:0:0:0:0:1}), and no library at hand does better. An IPv4-mapped address
     * stays in hex groups (::ffff:c000:201), as the JDK gives it.
     */
    static String ipv6(byte[] b, int scope) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestAt = -1;
        int bestLen = 1; // a single zero group is not shortened (RFC 5952 4.2.2)
        for (int i = 0; i < 8; i++) {
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestAt = i;
                bestLen = j - i;
            }
            i = Math.max(i, j);
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestAt) {
                s.append("::");
                i += bestLen - 1;
                continue;
            }
            if (s.length() > 0 && s.charAt(s.length() - 1) != ':') {
                s.append(':');
            }
            s.append(Integer.toHexString(g[i]));
        }
        return scope != 0 ? s + "%" + scope : s.toString();
    }

    /** Why {@code e} happened, in words; {@code peer} names the other side ("the client", "the backend"). */
    public static String why(Throwable e, String peer) {
        if (e == null) {
            return "no reason given";
        }
        String m = e.getMessage();
        if (e instanceof EOFException && (m == null || m.isEmpty())) {
            return peer + " closed the connection";
        }
        if (e instanceof SocketTimeoutException || e instanceof InterruptedByTimeoutException || e instanceof TimeoutException) {
            return "timed out" + (m == null || m.isEmpty() ? "" : " (" + m + ")");
        }
        if (e instanceof AsynchronousCloseException || e instanceof ClosedChannelException) {
            return "the connection was closed here";
        }
        if (m == null || m.isEmpty()) {
            Throwable c = e.getCause();
            return c != null && c != e ? why(c, peer) : e.getClass().getSimpleName();
        }
        switch (m) {
            case "Connection reset by peer":
            case "Connection reset":
                return peer + " reset the connection";
            case "Broken pipe":
                return peer + " closed the connection (broken pipe)";
            case "Connection refused":
                return peer + " refused the connection";
            case "Connection timed out":
                return "timed out connecting to " + peer;
            default:
                return m;
        }
    }

    /** {@link #why(Throwable, String)} with "the peer" for the other side. */
    public static String why(Throwable e) {
        return why(e, "the peer");
    }

    /** An RFC 5531 accept_stat by name and meaning: "SYSTEM_ERR (the server failed to answer it)". */
    public static String acceptStat(int s) {
        switch (s) {
            case 0: return "SUCCESS";
            case 1: return "PROG_UNAVAIL (the program is not served there)";
            case 2: return "PROG_MISMATCH (that version of the program is not served there)";
            case 3: return "PROC_UNAVAIL (no such procedure)";
            case 4: return "GARBAGE_ARGS (the arguments did not decode)";
            case 5: return "SYSTEM_ERR (the server could not carry the call out)";
            default: return "accept_stat " + Integer.toUnsignedString(s) + " (not one RFC 5531 defines)";
        }
    }

    /** An RFC 5531 reject_stat by name and meaning. */
    public static String rejectStat(int s) {
        switch (s) {
            case 0: return "RPC_MISMATCH (the server does not speak this RPC version)";
            case 1: return "AUTH_ERROR";
            default: return "reject_stat " + Integer.toUnsignedString(s) + " (not one RFC 5531 defines)";
        }
    }

    /** An RFC 5531 (and RFC 9289) auth_stat by name and meaning: "AUTH_TOOWEAK (the credentials are too weak for this call)". */
    public static String authStat(int s) {
        return authName(s) + authMeaning(s);
    }

    /** An auth_stat's name alone, for "answered AUTH_TOOWEAK". */
    public static String authName(int s) {
        switch (s) {
            case 0: return "AUTH_OK";
            case 1: return "AUTH_BADCRED";
            case 2: return "AUTH_REJECTEDCRED";
            case 3: return "AUTH_BADVERF";
            case 4: return "AUTH_REJECTEDVERF";
            case 5: return "AUTH_TOOWEAK";
            case 6: return "AUTH_INVALIDRESP";
            case 7: return "AUTH_FAILED";
            default: return "auth_stat " + Integer.toUnsignedString(s);
        }
    }

    private static String authMeaning(int s) {
        switch (s) {
            case 1: return " (bad credentials: the seal is broken)";
            case 2: return " (the client must begin a new session)";
            case 3: return " (bad verifier)";
            case 4: return " (the verifier expired or was replayed)";
            case 5: return " (the credentials are too weak for this call)";
            case 6: return " (bogus response verifier)";
            case 7: return " (reason unknown)";
            default: return "";
        }
    }
}
