package org.rpctlsservd.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import org.rpctlsservd.frontend.Connect;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.SourcePortRange;

/**
 * The kinds of option value and their checks. A refusal's message names the option and the value
 * as the command line gave them; {@link Cli} puts the program's name in front.
 */
final class Parse {
    private Parse() {
    }

    /** C atoi(): optional blanks and sign, then the leading digits; nothing numeric gives 0. */
    static long atoi(String s) {
        int i = 0;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        boolean negative = false;
        if (i < s.length() && (s.charAt(i) == '-' || s.charAt(i) == '+')) {
            negative = s.charAt(i) == '-';
            i++;
        }
        long n = 0;
        for (; i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9'; i++) {
            n = n * 10 + (s.charAt(i) - '0');
            if (n > Integer.MAX_VALUE) {
                return negative ? Long.MIN_VALUE : Long.MAX_VALUE;
            }
        }
        return negative ? -n : n;
    }

    static int positive(String name, String v, int max) throws UsageException {
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1 && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new UsageException(name + " must be a whole number from 1 to " + max + ", not `" + v + "'");
    }

    static Duration seconds(String name, String v) throws UsageException {
        try {
            double d = Double.parseDouble(v.trim());
            if (d >= 0.001 && d <= 86_400) {
                return Duration.ofMillis(Math.round(d * 1000));
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new UsageException(name + " takes seconds from 0.001 to 86400, not `" + v + "'");
    }

    /** Seconds as an option takes them: "10", "0.5". */
    static String secondsText(Duration d) {
        return d.toMillis() % 1000 == 0 ? Long.toString(d.toSeconds()) : java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString();
    }

    static InetSocketAddress hostPort(String name, String v) throws UsageException {
        int colon = v.lastIndexOf(':');
        if (colon <= 0 || colon == v.length() - 1) {
            throw new UsageException(name + " takes ADDR:PORT, not `" + v + "'");
        }
        String host = v.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(v.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new UsageException(name + ": bad port in `" + v + "'");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new UsageException(name + ": unknown address `" + host + "'");
        }
    }

    /** An IP address written out (no name lookups: a source address is this host's own). */
    static InetAddress literal(String name, String v) throws UsageException {
        try {
            return org.rpctlsservd.proxy.IpLiteral.either(v.startsWith("[") && v.endsWith("]") ? v.substring(1, v.length() - 1) : v);
        } catch (org.rpctlsservd.proxy.IpLiteral.NotALiteral e) {
            throw new UsageException(name + " takes an IP address, not `" + v + "'");
        }
    }

    /** --log-level's names: syslog's severities as java.util.logging has them. */
    static final Map<String, Level> LOG_LEVELS = Map.of(
            "error", Level.SEVERE, "warning", Level.WARNING, "info", Level.INFO, "debug", Level.FINE);

    /** --syslog-facility's names and codes, as syslog(3) and logger(1) name them. */
    static final Map<String, Integer> FACILITIES = facilities();

    private static Map<String, Integer> facilities() {
        Map<String, Integer> m = new LinkedHashMap<>();
        String[] names = {"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"};
        for (int i = 1; i < names.length; i++) { // not kern: logger(1) takes facility 0 in a prefix for "none given"
            m.put(names[i], i);
        }
        for (int i = 0; i < 8; i++) {
            m.put("local" + i, 16 + i);
        }
        m.put("security", 4); // syslog(3)'s old name for auth
        return Collections.unmodifiableMap(m);
    }

    /** --log-level's name for {@code l}: error, warning, info or debug. */
    static String logLevelName(Level l) {
        return LOG_LEVELS.entrySet().stream().filter(e -> e.getValue().equals(l)).map(Map.Entry::getKey).findFirst()
                .orElse(l.getName().toLowerCase(Locale.ROOT));
    }

    static Level logLevel(String v) throws UsageException {
        Level l = LOG_LEVELS.get(v.toLowerCase(Locale.ROOT));
        if (l == null) {
            throw new UsageException("--log-level takes error, warning, info or debug, not `" + v + "'");
        }
        return l;
    }

    static int facility(String v) throws UsageException {
        Integer f = FACILITIES.get(v.toLowerCase(Locale.ROOT));
        if (f == null) {
            throw new UsageException("--syslog-facility takes a syslog facility (" + String.join(", ", FACILITIES.keySet())
                    + "), not `" + v + "'");
        }
        return f;
    }

    /** Programs a --relay may name, as /etc/rpc spells them, with the versions NFS servers register. */
    private static final Map<String, Relay.Program> KNOWN_PROGRAMS = Map.of(
            "nfs", new Relay.Program(100003, "nfs", List.of(3, 4)),
            "mountd", new Relay.Program(100005, "mountd", List.of(1, 3)),
            "nlockmgr", new Relay.Program(100021, "nlockmgr", List.of(1, 3, 4)),
            "status", new Relay.Program(100024, "status", List.of(1)),
            "rquotad", new Relay.Program(100011, "rquotad", List.of(1, 2)),
            "nfs_acl", new Relay.Program(100227, "nfs_acl", List.of(3)));

    /** --relay LISTEN,BACKEND[,PROGRAM[/VERS+VERS...]]... */
    static Relay relay(String v) throws UsageException {
        String[] parts = v.split(",", -1);
        if (parts.length < 2) {
            throw new UsageException("--relay takes LISTEN,BACKEND[,PROGRAM...] (for example 0.0.0.0:2049,127.0.0.1:12049,nfs),"
                    + " not `" + v + "'");
        }
        InetSocketAddress listen = hostPort("--relay (listen)", parts[0].strip());
        InetSocketAddress backend = hostPort("--relay (backend)", parts[1].strip());
        List<Relay.Program> programs = new ArrayList<>();
        for (int i = 2; i < parts.length; i++) {
            programs.add(program(parts[i].strip()));
        }
        return new Relay(listen, backend, programs);
    }

    private static Relay.Program program(String p) throws UsageException {
        int slash = p.indexOf('/');
        String name = (slash < 0 ? p : p.substring(0, slash)).toLowerCase(Locale.ROOT);
        Relay.Program known = KNOWN_PROGRAMS.get(name.equals("mount") ? "mountd" : name);
        int number;
        if (known != null) {
            number = known.number();
        } else {
            try {
                number = Integer.parseUnsignedInt(name);
            } catch (NumberFormatException e) {
                throw new UsageException("--relay: unknown program `" + name + "' (nfs, mountd, nlockmgr, status, rquotad,"
                        + " nfs_acl, or a number with its versions: 400000/1)");
            }
        }
        if (slash < 0) {
            if (known == null) {
                throw new UsageException("--relay: program " + name + " needs its versions: " + name + "/1 or " + name + "/1+2");
            }
            return known;
        }
        List<Integer> versions = new ArrayList<>();
        for (String x : p.substring(slash + 1).split("\\+", -1)) {
            int n;
            try {
                n = Integer.parseInt(x.strip());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 0 || versions.contains(n)) {
                throw new UsageException("--relay: bad versions in `" + p + "' (versions are numbers joined by +: nfs/3+4)");
            }
            versions.add(n);
        }
        return new Relay.Program(number, known != null ? known.name() : null, versions);
    }

    /**
     * --backend-source-ports (or --server-source-ports, {@code name}) reserved|any|LOW-HIGH; given, so never equal to the default
     * {@link SourcePortRange#RESERVED}.
     */
    static SourcePortRange sourcePorts(String name, String v) throws UsageException {
        if (v.equals("reserved")) {
            return new SourcePortRange(SourcePortRange.RESERVED.low(), SourcePortRange.RESERVED.high(), true);
        }
        if (v.equals("any")) {
            return SourcePortRange.ANY;
        }
        int dash = v.indexOf('-');
        try {
            int low = Integer.parseInt(v.substring(0, dash));
            int high = Integer.parseInt(v.substring(dash + 1));
            if (low >= 1 && low <= high && high <= 65535) {
                return new SourcePortRange(low, high, true);
            }
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            // refused below
        }
        throw new UsageException(name + " takes reserved, any or LOW-HIGH (1 to 65535), not `" + v + "'");
    }

    /**
     * --connect LISTEN,SERVER[,certname=NAME]: LISTEN is [addr:]port (a port alone: loopback, so plain text stays on
     * this host unless an address is given); SERVER is host:port, the host a DNS name or an IP literal, kept as written
     * (the connector resolves it at each connect, and the certificate must match it).
     */
    static Connect connect(String v) throws UsageException {
        String[] parts = v.split(",", -1);
        if (parts.length < 2 || parts.length > 3) {
            throw new UsageException("--connect takes LISTEN,SERVER[,certname=NAME] (for example 127.0.0.1:2049,nfs.example.org:2049),"
                    + " not `" + v + "'");
        }
        String l = parts[0].strip();
        InetSocketAddress listen = l.matches("[0-9]+") ? hostPort("--connect (listen)", "127.0.0.1:" + l)
                : hostPort("--connect (listen)", l);
        String server = parts[1].strip();
        int colon = server.lastIndexOf(':');
        String host = colon <= 0 ? "" : server.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            host = ""; // an IPv6 literal goes in brackets, or its last group would be taken for the port
        }
        int port = -1;
        try {
            port = Integer.parseInt(server.substring(colon + 1));
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            // refused below
        }
        if (host.isEmpty() || port < 1 || port > 65535) {
            throw new UsageException("--connect: the server is HOST:PORT (a name, an IPv4 address or [IPv6], a port from 1 to 65535),"
                    + " not `" + server + "'");
        }
        String certName = "";
        if (parts.length == 3) {
            String c = parts[2].strip();
            if (!c.startsWith("certname=") || c.length() == "certname=".length()) {
                throw new UsageException("--connect: the third part is certname=NAME, not `" + c + "'");
            }
            certName = c.substring("certname=".length());
        }
        try {
            return new Connect(listen, host, port, certName);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--connect: " + e.getMessage());
        }
    }
}
