package org.rpctlsservd.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.logging.Level;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.proxy.Cidr;

/**
 * One option of rpc.tlsservd, declared once: its short and long name, its argument, its default,
 * its check and message, its help line, whether a {@code --config} file may set it (by its long
 * name) and whether SIGHUP applies it. The command line ({@link Cli}), the config file
 * ({@link ConfigFile}), the usage text and the values of {@link Config} all come from
 * {@link #all()}; the rules between options are {@link Rules}. Like an enum, but typed: the
 * constants below are each an {@code Opt} of their value's type.
 *
 * <p>Long because it is the list of every option, one entry each, after 220 lines of code.
 *
 * @param <T> the value's type; a repeatable option's is a list of what one occurrence gives
 */
public final class Opt<T> {
    /** What a default may depend on: this host. */
    public record Host(int ncpu, String hostname, Function<String, String> canonicalName) {
    }

    /** Which daemon has an option: rpc.tlsservd, rpc.tlsclntd, or both. */
    public enum Side {
        SERVER, CLIENT, BOTH;

        /** True when the program {@code program} (SERVER or CLIENT) has an option of this side. */
        boolean in(Side program) {
            return this == BOTH || this == program;
        }
    }

    /** The options read so far, as a value's check sees them (defaults for those not given yet). */
    interface SoFar {
        <V> V get(Opt<V> option);

        Host host();
    }

    /**
     * One occurrence's value from its argument (null for a flag); a refusal's message names the
     * option but not the program.
     */
    @FunctionalInterface
    interface Parser<E> {
        E parse(String arg, SoFar soFar) throws UsageException;
    }

    private static final List<Opt<?>> DECLARED = new ArrayList<>();

    private final String shortName;
    private final String longName;
    private final String argName;
    private final Function<Host, T> defaultValue;
    private final String defaultText;
    private final Parser<?> parser;
    private final boolean repeatable;
    private final String help;
    private final boolean inFile;
    private final boolean reloads;
    /** False for what Cli acts on itself (--config, --version, --help): no value in a {@link Config}. */
    private final boolean setting;
    /** Which program has it. */
    private final Side side;
    /** The client's help line where it differs from the server's (the connector is not a front end); else null. */
    private final String clientHelp;

    private Opt(String shortName, String longName, String argName, Function<Host, T> defaultValue, String defaultText,
            Parser<?> parser, boolean repeatable, String help, boolean inFile, boolean reloads) {
        this(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, inFile, reloads, true, Side.SERVER,
                null);
    }

    private Opt(String shortName, String longName, String argName, Function<Host, T> defaultValue, String defaultText,
            Parser<?> parser, boolean repeatable, String help, boolean inFile, boolean reloads, boolean setting, Side side,
            String clientHelp) {
        this.shortName = shortName;
        this.longName = longName;
        this.argName = argName;
        this.defaultValue = defaultValue;
        this.defaultText = defaultText;
        this.parser = parser;
        this.repeatable = repeatable;
        this.help = help;
        this.inFile = inFile;
        this.reloads = reloads;
        this.setting = setting;
        this.side = side;
        this.clientHelp = clientHelp;
    }

    // ---- the kinds of option ----

    private static Opt<Boolean> flag(String shortName, String longName, String help) {
        return new Opt<>(shortName, longName, null, h -> false, null, (a, s) -> Boolean.TRUE, false, help, true, false);
    }

    private static <T> Opt<T> value(String shortName, String longName, String argName, T defaultValue, Parser<T> parser,
            String help) {
        return new Opt<>(shortName, longName, argName, h -> defaultValue, shown(defaultValue), parser, false, help, true, false);
    }

    private static <E> Opt<List<E>> list(String longName, String argName, Parser<E> parser, String help) {
        return new Opt<>(null, longName, argName, h -> List.of(), null, parser, true, help, true, false);
    }

    /** Declared: the last step of each constant, which lists it. */
    private Opt<T> declare() {
        DECLARED.add(this);
        return this;
    }

    private Opt<T> defaultFrom(Function<Host, T> value, String text) {
        return new Opt<>(shortName, longName, argName, value, text, parser, repeatable, help, inFile, reloads, setting, side,
                clientHelp);
    }

    /** How the help, the man page and the README state the default (null: no default to state). */
    private Opt<T> defaultText(String text) {
        return new Opt<>(shortName, longName, argName, defaultValue, text, parser, repeatable, help, inFile, reloads, setting, side,
                clientHelp);
    }

    private Opt<T> parsedBy(Parser<?> p) {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, p, repeatable, help, inFile, reloads, setting, side,
                clientHelp);
    }

    /** An action, or the file itself: not for a config file. */
    private Opt<T> notInFiles() {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, false, reloads, setting,
                side, clientHelp);
    }

    /** What the command line does rather than sets: not for a config file, and no value in a {@link Config}. */
    private Opt<T> action() {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, false, reloads, false,
                side, clientHelp);
    }

    private Opt<T> reloadedOnSighup() {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, inFile, true, setting, side,
                clientHelp);
    }

    /** A plain default as the documentation writes it: a number, seconds, a name; null when there is nothing to state. */
    private static String shown(Object value) {
        if (value instanceof Duration d) {
            return Parse.secondsText(d);
        }
        if (value instanceof Number || value instanceof String || value instanceof Path) {
            return value.toString();
        }
        return null;
    }

    // ---- what each declaration says ----

    /** The one-character name, or null for a long-only option. */
    public String shortName() {
        return shortName;
    }

    public String longName() {
        return longName;
    }

    /** The argument's name in the help, or null for a flag. */
    public String argName() {
        return argName;
    }

    public boolean takesArgument() {
        return argName != null;
    }

    /** Each occurrence adds to a list (on the command line and in a file). */
    public boolean repeatable() {
        return repeatable;
    }

    /** The help line, with the default as {@link #defaultText()} states it, and whether SIGHUP applies it. */
    public String help() {
        return help + (reloads ? "; SIGHUP applies it" : "") + (defaultText == null ? "" : " (default " + defaultText + ")");
    }

    /** The help line as {@code program}'s --help shows it. */
    public String help(Side program) {
        if (program != Side.CLIENT || clientHelp == null) {
            return help();
        }
        return clientHelp + (reloads ? "; SIGHUP applies it" : "") + (defaultText == null ? "" : " (default " + defaultText + ")");
    }

    /** Which daemon has it. */
    public Side side() {
        return side;
    }

    /** The default as the help, man page and README state it; null when there is none to state. */
    public String defaultText() {
        return defaultText;
    }

    /** The value when the option is not given, on {@code host}. */
    public T defaultValue(Host host) {
        return defaultValue.apply(host);
    }

    /** A --config file may set it, by its long name. */
    public boolean inFile() {
        return inFile;
    }

    /** A {@link Config} holds its value (all but --config, --version and --help, which {@link Cli} acts on). */
    public boolean setting() {
        return setting;
    }

    /** SIGHUP applies a changed value; every other option takes effect at a restart. */
    public boolean reloads() {
        return reloads;
    }

    /** "-N/--maxthreads" or "--listen", as messages name it. */
    @Override
    public String toString() {
        return shortName != null ? "-" + shortName + "/--" + longName : "--" + longName;
    }

    /** The value after one more occurrence with argument {@code arg}: replaced, or for a repeatable option added to. */
    @SuppressWarnings("unchecked")
    T next(String arg, SoFar soFar) throws UsageException {
        Object one = parser.parse(arg, soFar);
        if (!repeatable) {
            return (T) one;
        }
        List<Object> more = new ArrayList<>((List<?>) soFar.get(this));
        more.add(one);
        return (T) Collections.unmodifiableList(more);
    }

    /** Every option of rpc.tlsservd, in the order --help lists them. */
    public static List<Opt<?>> all() {
        return ALL;
    }

    /** Every option of rpc.tlsclntd, in the order its --help lists them. */
    public static List<Opt<?>> client() {
        return CLIENT;
    }

    /** Every option of {@code program} (SERVER or CLIENT). */
    public static List<Opt<?>> of(Side program) {
        return program == Side.CLIENT ? CLIENT : ALL;
    }

    /** The server's option with this long name, or null. */
    public static Opt<?> byLongName(String name) {
        return byLongName(Side.SERVER, name);
    }

    /** {@code program}'s option with this long name, or null. */
    public static Opt<?> byLongName(Side program, String name) {
        for (Opt<?> o : of(program)) {
            if (o.longName.equals(name)) {
                return o;
            }
        }
        return null;
    }

    // ---- the options: the C daemon's (2C:D:dhl:N:n:mp:r:uvWw) and this implementation's long-only ones ----

    public static final String DEFAULT_CERTDIR = "/etc/rpc.tlsservd/";
    /** rpc.tlsclntd's, as FreeBSD's _PATH_CERTANDKEY for it. */
    public static final String DEFAULT_CLIENT_CERTDIR = "/etc/rpc.tlsclntd/";
    public static final Path DEFAULT_CLIENT_PIDFILE = Path.of("/var/run/rpc.tlsclntd.pid");
    /** Where FreeBSD's rpc.tlsclntd listens for the kernel's upcalls. */
    public static final Path DEFAULT_CLIENT_RPC_SOCKET = Path.of("/var/run/rpc.tlsclntd.sock");
    public static final Path DEFAULT_PIDFILE = Path.of("/var/run/rpc.tlsservd.pid");
    /** Where FreeBSD 13 and 14's rpc.tlsservd listened for the kernel's upcalls. */
    public static final Path DEFAULT_RPC_SOCKET = Path.of("/var/run/rpctlssd.sock");
    /** --handshake-timeout's default (and, unless given, the PROXY header's deadline). */
    private static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** -N's default: half the online CPUs, at least one (-N takes 1 to the number of CPUs). */
    public static int defaultMaxThreads(int ncpu) {
        return Math.max(1, ncpu / 2);
    }

    public static final Opt<Boolean> ALLOW_TLS12 = flag("2", "allowtls1_2", "allow TLS 1.2 as well as TLS 1.3").declare();
    /** The client's -2 pins the lowest and the highest version alike, as FreeBSD's rpc.tlsclntd does. */
    public static final Opt<Boolean> USETLS12 = flag("2", "usetls1_2",
            "use TLS 1.2 instead of TLS 1.3, for servers that cannot do TLS 1.3").clientOnly().declare();
    public static final Opt<String> CIPHERS = value("C", "ciphers", "available_ciphers", (String) null, (a, s) -> a,
            "TLS 1.3 cipher suites, colon-separated, in order of preference").both().declare();
    public static final Opt<String> CERTDIR = value("D", "certdir", "certdir", DEFAULT_CERTDIR, (a, s) -> a,
            "directory of cert.pem and certkey.pem").declare();
    public static final Opt<String> CLIENT_CERTDIR = value("D", "certdir", "certdir", DEFAULT_CLIENT_CERTDIR, (a, s) -> a,
            "directory of the client certificate for -m: cert.pem and certkey.pem, or a --connect certname's <certname>.pem and "
                    + "<certname>key.pem").clientOnly().declare();
    public static final Opt<String> KEY_URI = value(null, "key-uri", "pkcs11-uri", (String) null, (a, s) -> {
        try {
            org.rpctlsservd.certs.TokenKey.parse(a);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--key-uri: " + e.getMessage());
        }
        return a;
    }, "the server key in a PKCS#11 token (RFC 7512 URI: pkcs11:token=...;object=...?module-path=...&pin-source=file:...); "
            + "the certificate stays certdir's cert.pem").declare();
    public static final Opt<Path> KEY_PASSPHRASE_FILE = value(null, "key-passphrase-file", "file", (Path) null, (a, s) -> Path.of(a),
            "the passphrase of an encrypted certkey.pem, on the file's first line").declare();
    /** Counted: -d -d is level 2. */
    public static final Opt<Integer> DEBUGLEVEL = flag("d", "debuglevel", "stay in the foreground and log to stderr")
            .<Integer>retyped(0).parsedBy((a, s) -> s.get(Opt.DEBUGLEVEL) + 1).both().declare();
    public static final Opt<Boolean> CHECKHOST = flag("h", "checkhost", "client certificate must match the peer's reverse-DNS name")
            .declare();
    public static final Opt<String> VERIFYLOCS = value("l", "verifylocs", "CAfile", (String) null, (a, s) -> a,
            "CA file for client certificates").declare();
    public static final Opt<String> SERVER_VERIFYLOCS = value("l", "verifylocs", "CAfile", (String) null, (a, s) -> a,
            "CA file: the server's certificate must verify against it and match the server's name or address").clientOnly().declare();
    public static final Opt<Boolean> MUTUALVERF = flag("m", "mutualverf", "request a client certificate").declare();
    public static final Opt<Boolean> CLIENT_MUTUALVERF = flag("m", "mutualverf",
            "present a client certificate (certdir's, or the one a --connect's certname names)").clientOnly().declare();
    public static final Opt<Integer> MAXTHREADS = value("N", "maxthreads", "num", 0, (a, s) -> {
        long n = Parse.atoi(a);
        if (n < 1 || n > s.host().ncpu()) {
            throw new UsageException("maximum threads must be between 1 and number of CPUs (" + s.host().ncpu() + ")");
        }
        return (int) n;
    }, "handshakes run at once, 1..number of CPUs").defaultFrom(h -> defaultMaxThreads(h.ncpu()), "CPUs / 2, at least 1").both()
            .declare();
    /** Stored as the C daemon keeps it: "@" and at most 256 characters. */
    public static final Opt<String> DOMAIN = value("n", "domain", "domain_name", (String) null,
            (a, s) -> "@" + (a.length() > 256 ? a.substring(0, 256) : a), "domain for -u")
            .defaultFrom(h -> Cli.defaultDomain(h.hostname(), h.canonicalName()), "from the host name").declare();
    public static final Opt<String> VERIFYDIR = value("p", "verifydir", "CApath", (String) null, (a, s) -> a,
            "hashed CA directory for client certificates").declare();
    public static final Opt<String> SERVER_VERIFYDIR = value("p", "verifydir", "CApath", (String) null, (a, s) -> a,
            "hashed CA directory: the server's certificate must verify against it and match the server's name or address")
            .clientOnly().declare();
    public static final Opt<String> CRL = value("r", "crl", "CRLfile", (String) null, (a, s) -> a, "CRL file, reloaded on SIGHUP")
            .both().declare();
    public static final Opt<Boolean> CERTUSER = flag("u", "certuser", "map the certificate's otherName user@domain to uid and gids")
            .declare();
    public static final Opt<Boolean> VERBOSE = flag("v", "verbose", "log activity: the same as --log-level debug").both()
            .reloadedOnSighup().declare();
    /** Null when not given: then -v decides ({@link Config#logLevel()}). */
    public static final Opt<Level> LOG_LEVEL = value(null, "log-level", "error|warning|info|debug", (Level) null,
            (a, s) -> Parse.logLevel(a), "the least a line must be to be logged; debug is the daemon's own detail, the libraries' "
                    + "lines stay at warning; given, it wins over -v").defaultText("info").both()
            .reloadedOnSighup().declare();
    /** Daemon by default, as the C daemon's openlog(LOG_DAEMON). */
    public static final Opt<Integer> SYSLOG_FACILITY = value(null, "syslog-facility", "name", 3, (a, s) -> Parse.facility(a),
            "the syslog facility of a detached daemon's lines: daemon, auth, authpriv, user, local0 to "
                    + "local7...; not for -d (under systemd the journal takes the unit's SyslogFacility=)").defaultText("daemon").both()
            .declare();
    public static final Opt<Boolean> MULTIWILD = flag("W", "multiwild", "-h: a wildcard may match several labels")
            .parsedBy(Opt::oneWildcardOption).declare();
    public static final Opt<Boolean> SINGLEWILD = flag("w", "singlewild", "-h: a wildcard matches one label")
            .parsedBy(Opt::oneWildcardOption).declare();
    public static final Opt<Path> PIDFILE = value(null, "pidfile", "path", DEFAULT_PIDFILE, (a, s) -> Path.of(a), "pidfile").declare();
    public static final Opt<Path> CLIENT_PIDFILE = value(null, "pidfile", "path", DEFAULT_CLIENT_PIDFILE, (a, s) -> Path.of(a), "pidfile")
            .clientOnly().declare();
    public static final Opt<Boolean> NO_PIDFILE = flag(null, "no-pidfile",
            "run without a pidfile (and without its lock against a second instance), whatever --pidfile says").both().declare();
    public static final Opt<InetSocketAddress> RPC_ADDRESS = value(null, "rpc-address", "addr:port",
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), (a, s) -> Parse.hostPort("--rpc-address", a),
            "address of the RPCTLSSD service").defaultText("127.0.0.1:0, a free port, registered with rpcbind").declare();
    public static final Opt<Integer> RPC_MAX_CONNECTIONS = value(null, "rpc-max-connections", "num", 64,
            (a, s) -> Parse.positive("--rpc-max-connections", a, 1_000_000), "connections to the RPCTLSSD service at once").declare();
    public static final Opt<Duration> RPC_IDLE_TIMEOUT = value(null, "rpc-idle-timeout", "seconds", Duration.ofMinutes(10),
            (a, s) -> Duration.ofSeconds(Parse.positive("--rpc-idle-timeout", a, 86_400 * 365)),
            "close an RPCTLSSD connection idle this long").declare();
    public static final Opt<Integer> CONNECT_QUEUE = value(null, "connect-queue", "num", 1024,
            (a, s) -> Parse.positive("--connect-queue", a, 1_000_000), "CONNECT calls waiting for a worker before more are refused")
            .both().declare();
    public static final Opt<Duration> HANDSHAKE_TIMEOUT = value(null, "handshake-timeout", "seconds", DEFAULT_HANDSHAKE_TIMEOUT,
            (a, s) -> Parse.seconds("--handshake-timeout", a),
            "give up a handshake not done in this time (fractions allowed; with a front end, below --upcall-timeout)")
            .both("give up a handshake not done in this time (fractions allowed; with --connect, below --upcall-timeout)").declare();
    public static final Opt<String> GROUPS = value(null, "groups", "groups", (String) null, (a, s) -> a,
            "key-exchange groups, colon-separated, in order of preference")
            .defaultText("X25519MLKEM768:SecP256r1MLKEM768:x25519:secp256r1:secp384r1").declare();
    public static final Opt<List<String>> ALLOW_SUBJECT = list("allow-subject", "DN", (a, s) -> a,
            "only verified client certificates with this RFC 2253 subject (exact, or a glob with * and ?) count as verified; "
                    + "repeatable").reloadedOnSighup().declare();
    public static final Opt<List<String>> ALLOW_SAN = list("allow-san", "name", (a, s) -> a,
            "only verified client certificates with this DNS or URI subjectAltName (a glob) count as verified; repeatable").reloadedOnSighup().declare();
    public static final Opt<Boolean> REQUIRE_EKU = flag(null, "require-eku",
            "only verified client certificates with the extended key usage id-kp-rpcTLSClient count as verified")
            .reloadedOnSighup().declare();
    public static final Opt<Boolean> REQUIRE_ALPN = flag(null, "require-alpn",
            "refuse clients that do not offer ALPN \"sunrpc\" (RFC 9289 section 5)").declare();
    public static final Opt<Boolean> THROWAWAY_CERT = flag(null, "throwaway-cert",
            "serve a self-signed certificate made at start-up instead of certdir's (for trying it out)").declare();
    public static final Opt<List<InetSocketAddress>> LISTEN = list("listen", "addr:port", (a, s) -> Parse.hostPort("--listen", a),
            "RFC 9289 front end: accept RPC clients here (repeatable; IPv4 or [IPv6])").declare();
    public static final Opt<List<org.rpctlsservd.frontend.Connect>> CONNECT = list("connect", "listen,server[,certname=NAME]",
            (a, s) -> Parse.connect(a), "connector: accept plain RPC clients at listen ([addr:]port; a port alone is on loopback) and "
                    + "take each to the RFC 9289 server at server (host:port) over TLS; with -l or -p its certificate must match host;"
                    + " certname=NAME presents NAME.pem with -m; repeatable").clientOnly().declare();
    public static final Opt<InetSocketAddress> BACKEND = value(null, "backend", "host:port", (InetSocketAddress) null,
            (a, s) -> Parse.hostPort("--backend", a), "the plain ONC-RPC server the front end relays to").declare();
    public static final Opt<List<Relay>> RELAY = list("relay", "listen,backend[,program...]", (a, s) -> Parse.relay(a),
            "RFC 9289 front end: accept RPC clients at listen (addr:port) and relay them to backend (host:port); the "
                    + "programs named (nfs, mountd, nlockmgr, status, rquotad, nfs_acl or a number with its versions: 400100/1+2) are "
                    + "registered with rpcbind at the listen port where nobody has registered them; repeatable").declare();
    public static final Opt<SourcePortRange> BACKEND_SOURCE_PORTS = value(null, "backend-source-ports", "reserved|any|low-high",
            SourcePortRange.RESERVED, (a, s) -> Parse.sourcePorts("--backend-source-ports", a), "front end: the local ports backend connections come from")
            .defaultText("reserved, " + SourcePortRange.RESERVED.low() + "-" + SourcePortRange.RESERVED.high()
                    + ", when the daemon may bind them: NFS servers' secure exports want them; else any").declare();
    public static final Opt<SourcePortRange> SERVER_SOURCE_PORTS = value(null, "server-source-ports", "reserved|any|low-high",
            SourcePortRange.RESERVED, (a, s) -> Parse.sourcePorts("--server-source-ports", a),
            "connector: the local ports server connections come from").defaultText("reserved, " + SourcePortRange.RESERVED.low() + "-"
                    + SourcePortRange.RESERVED.high() + ", when the daemon may bind them: NFS servers' secure exports want them; else any")
            .clientOnly().declare();
    public static final Opt<List<InetAddress>> BACKEND_SOURCE = list("backend-source", "addr",
            (a, s) -> Parse.literal("--backend-source", a),
            "front end: a local address backend connections come from; repeatable: each adds a range of reserved "
                    + "ports").defaultText("the kernel's choice of address").declare();
    public static final Opt<List<InetAddress>> SERVER_SOURCE = list("server-source", "addr", (a, s) -> Parse.literal("--server-source", a),
            "connector: a local address server connections come from; repeatable: each adds a range of reserved ports")
            .defaultText("the kernel's choice of address").clientOnly().declare();
    public static final Opt<Boolean> ALLOW_PLAIN = flag(null, "allow-plain",
            "connector: relay in plain text to a server that does not answer STARTTLS (else its clients are refused)").clientOnly()
            .declare();
    public static final Opt<List<Cidr>> ACCEPT_PROXY_FROM = list("accept-proxy-from", "cidr", (a, s) -> {
        try {
            return Cidr.parse(a);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--accept-proxy-from: " + e.getMessage());
        }
    }, "front end: connections from these addresses must begin with a PROXY protocol header (v1 or v2), whose source "
            + "address then stands for the client; repeatable").declare();
    /** 0: none; 1 or 2: the PROXY protocol version. */
    public static final Opt<Integer> BACKEND_PROXY = value(null, "backend-proxy", "v1|v2", 0, (a, s) -> {
        if (!a.equals("v1") && !a.equals("v2")) {
            throw new UsageException("--backend-proxy takes v1 or v2, not `" + a + "'");
        }
        return a.equals("v1") ? 1 : 2;
    }, "front end: begin each backend connection with a PROXY protocol header carrying the client's address "
            + "(v2: with its TLS details)").defaultText(null).declare();
    public static final Opt<Require> REQUIRE = value(null, "require", "none|tls|cert|certuser", Require.NONE, (a, s) -> {
        try {
            return Require.valueOf(a.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--require takes none, tls, cert or certuser, not `" + a + "'");
        }
    }, "front end: the least a connection needs for calls other than NULL").defaultText("none").declare();
    public static final Opt<Duration> IDLE_TIMEOUT = value(null, "idle-timeout", "seconds", Duration.ofMinutes(6),
            (a, s) -> Parse.seconds("--idle-timeout", a), "front end: close a client connection idle this long")
            .both("connector: close a client connection idle this long").declare();
    public static final Opt<Duration> UPCALL_TIMEOUT = value(null, "upcall-timeout", "seconds", Duration.ofSeconds(15),
            (a, s) -> Parse.seconds("--upcall-timeout", a), "front end: give up a CONNECT upcall after this long")
            .both("connector: give up a CONNECT upcall after this long").declare();
    /** Null when not given: then the handshake's deadline ({@link Config#proxyHeaderTimeout()}), as before it had a name. */
    public static final Opt<Duration> PROXY_HEADER_TIMEOUT = value(null, "proxy-header-timeout", "seconds",
            (Duration) null, (a, s) -> Parse.seconds("--proxy-header-timeout", a),
            "front end: close a connection from an --accept-proxy-from address whose PROXY header is not in within this "
                    + "time (fractions allowed)").defaultText("--handshake-timeout").declare();
    public static final Opt<Duration> WRITE_TIMEOUT = value(null, "write-timeout", "seconds", Duration.ofSeconds(30),
            (a, s) -> Parse.seconds("--write-timeout", a),
            "front end: close a connection whose client or backend took no bytes for this long")
            .both("connector: close a connection whose client or server took no bytes for this long").declare();
    public static final Opt<Integer> MAX_CLIENTS = value(null, "max-clients", "num", 10_000,
            (a, s) -> Parse.positive("--max-clients", a, 1_000_000),
            "front end: client connections at once; at the limit the longest-idle connections that have earned least "
                    + "are closed to make room").both("connector: client connections at once; at the limit the longest-idle "
                    + "connections that have earned least are closed to make room").declare();
    public static final Opt<Duration> FIRST_CALL_TIMEOUT = value(null, "first-call-timeout", "seconds", Duration.ofSeconds(10),
            (a, s) -> Parse.seconds("--first-call-timeout", a),
            "front end: close a new client that has not had its STARTTLS probe answered or a call relayed within "
                    + "this time (fractions allowed)").both("connector: close a new client that has not had a call relayed within "
                    + "this time (fractions allowed)").declare();
    /** In bytes; 0: half the maximum heap, as the daemon works it out. */
    public static final Opt<Long> MEMORY_BUDGET = value(null, "memory-budget", "MiB", 0L,
            (a, s) -> Parse.positive("--memory-budget", a, 1 << 20) * 1024L * 1024,
            "front end: bytes all connections may hold at once; at the limit accepting pauses and the connections holding the "
                    + "most unfinished memory are closed").defaultText("half the maximum heap").both("connector: bytes all connections "
                    + "may hold at once; at the limit accepting pauses and the connections holding the most unfinished memory are closed")
            .declare();
    public static final Opt<Path> RPC_SOCKET = value(null, "rpc-socket", "path", DEFAULT_RPC_SOCKET, Opt::socketPath,
            "Unix-domain socket of the RPCTLSSD service, mode 0600, for root and the daemon's user only").declare();
    public static final Opt<Path> CLIENT_RPC_SOCKET = value(null, "rpc-socket", "path", DEFAULT_CLIENT_RPC_SOCKET, Opt::socketPath,
            "Unix-domain socket of the RPCTLSCD service, mode 0600, for root and the daemon's user only").clientOnly().declare();
    public static final Opt<Integer> IO_THREADS = value(null, "io-threads", "num", 0,
            (a, s) -> Parse.positive("--io-threads", a, 256), "front end: event loops, each serving its share of the connections")
            .defaultFrom(Host::ncpu, "number of CPUs").both("connector: event loops, each serving its share of the connections").declare();
    public static final Opt<Boolean> RPC_INSECURE = flag(null, "rpc-insecure",
            "answer CONNECT, HANDLERECORD and DISCONNECT on TCP and UDP from unprivileged ports too (for testing only)").declare();
    public static final Opt<Boolean> NO_RPCBIND = flag(null, "no-rpcbind", "do not register with rpcbind").both().declare();
    public static final Opt<InetSocketAddress> METRICS = value(null, "metrics", "addr:port", (InetSocketAddress) null,
            (a, s) -> Parse.hostPort("--metrics", a),
            "serve Prometheus metrics on /metrics and readiness on /ready here (bind it to loopback)").defaultText("off").both().declare();
    public static final Opt<String> CONFIG = value(null, "config", "file", (String) null, (a, s) -> a,
            "read options from this file, lines \"name = value\" or \"name\"; the command line overrides it").action().both().declare();
    public static final Opt<Boolean> CHECK = flag(null, "check",
            "check the options, files and addresses as a start would, then exit (0: valid)").notInFiles().both().declare();
    public static final Opt<Boolean> VERSION = flag(null, "version", "print the version and exit").action().both().declare();
    public static final Opt<Boolean> HELP = flag(null, "help", "show this help and exit").action().both().declare();

    private static final List<Opt<?>> ALL = DECLARED.stream().filter(o -> o.side.in(Side.SERVER)).toList();
    private static final List<Opt<?>> CLIENT = DECLARED.stream().filter(o -> o.side.in(Side.CLIENT)).toList();

    /** --rpc-socket: a path bind(2) can take. */
    private static Path socketPath(String a, SoFar s) throws UsageException {
        if (!a.startsWith("/") || a.length() > 107) {
            throw new UsageException("--rpc-socket takes an absolute path of at most 107 bytes, not `" + a + "'");
        }
        return Path.of(a);
    }

    /** -w and -W: one of them, once. */
    private static Boolean oneWildcardOption(String arg, SoFar s) throws UsageException {
        if (s.get(SINGLEWILD) || s.get(MULTIWILD)) {
            throw new UsageException("options -w and -W are mutually exclusive");
        }
        return Boolean.TRUE;
    }

    /** A flag whose value is not a boolean (-d counts). */
    private <V> Opt<V> retyped(V defaultValue) {
        return new Opt<>(shortName, longName, argName, h -> defaultValue, null, parser, repeatable, help, inFile, reloads, setting, side,
                clientHelp);
    }

    /** rpc.tlsclntd's alone. */
    private Opt<T> clientOnly() {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, inFile, reloads, setting,
                Side.CLIENT, null);
    }

    /** Both daemons', with the same help. */
    private Opt<T> both() {
        return both(null);
    }

    /** Both daemons', the client's help being {@code forClient} (null: the same as the server's). */
    private Opt<T> both(String forClient) {
        return new Opt<>(shortName, longName, argName, defaultValue, defaultText, parser, repeatable, help, inFile, reloads, setting,
                Side.BOTH, forClient);
    }
}
