package org.rpctlsservd.cli;

import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Function;
import org.apache.commons.cli.AmbiguousOptionException;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.MissingArgumentException;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.commons.cli.UnrecognizedOptionException;

/**
 * The rpc.tlsservd command line: the C daemon's short and long options
 * ({@code 2C:D:dhl:N:n:mp:r:uvWw}), its checks in its order and its messages, plus long-only options
 * of this implementation.
 */
public final class Cli {
    public static final String DEFAULT_PROGNAME = "rpc.tlsservd";

    private final String progname;
    private final int ncpu;
    private final String hostname;
    private final Function<String, String> canonicalName;

    /**
     * @param progname      argv[0] as shown in messages
     * @param ncpu          online CPUs: the -N range and the default cap
     * @param hostname      this host's name, for the default -u domain
     * @param canonicalName resolves a host name to its canonical name (null when it cannot)
     */
    public Cli(String progname, int ncpu, String hostname, Function<String, String> canonicalName) {
        this.progname = progname;
        this.ncpu = ncpu;
        this.hostname = hostname;
        this.canonicalName = canonicalName;
    }

    /** For the running system: online CPUs, gethostname() and DNS for the canonical name. */
    public static Cli forThisHost(String progname) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "localhost");
        }
        return new Cli(progname, Runtime.getRuntime().availableProcessors(), host, name -> {
            try {
                return InetAddress.getByName(name).getCanonicalHostName();
            } catch (UnknownHostException e) {
                return null;
            }
        });
    }

    public int ncpu() {
        return ncpu;
    }

    /** The usage line (ours lists -N, which the current C daemon's omits). */
    public String usage() {
        return "usage: " + progname + " [-2/--allowtls1_2] [-C/--ciphers available_ciphers] [-D/--certdir certdir]"
                + " [-d/--debuglevel] [-h/--checkhost] [-l/--verifylocs CAfile] [-m/--mutualverf]"
                + " [-N/--maxthreads num] [-n/--domain domain_name] [-p/--verifydir CApath] [-r/--crl CRLfile]"
                + " [-u/--certuser] [-v/--verbose] [-W/--multiwild] [-w/--singlewild]";
    }

    static Options options() {
        Options o = new Options();
        o.addOption(Option.builder("2").longOpt("allowtls1_2").desc("allow TLS 1.2 as well as TLS 1.3").build());
        o.addOption(Option.builder("C").longOpt("ciphers").hasArg().argName("available_ciphers")
                .desc("TLS 1.3 cipher suites, colon-separated, in order of preference").build());
        o.addOption(Option.builder("D").longOpt("certdir").hasArg().argName("certdir")
                .desc("directory of cert.pem and certkey.pem (default " + Config.DEFAULT_CERTDIR + ")").build());
        o.addOption(Option.builder().longOpt("key-uri").hasArg().argName("pkcs11-uri")
                .desc("the server key in a PKCS#11 token (RFC 7512 URI: pkcs11:token=...;object=...?module-path=...&pin-source=file:...); "
                        + "the certificate stays certdir's cert.pem").build());
        o.addOption(Option.builder().longOpt("key-passphrase-file").hasArg().argName("file")
                .desc("the passphrase of an encrypted certkey.pem, on the file's first line").build());
        o.addOption(Option.builder("d").longOpt("debuglevel").desc("stay in the foreground and log to stderr").build());
        o.addOption(Option.builder("h").longOpt("checkhost").desc("client certificate must match the peer's reverse-DNS name").build());
        o.addOption(Option.builder("l").longOpt("verifylocs").hasArg().argName("CAfile").desc("CA file for client certificates").build());
        o.addOption(Option.builder("m").longOpt("mutualverf").desc("request a client certificate").build());
        o.addOption(Option.builder("N").longOpt("maxthreads").hasArg().argName("num")
                .desc("handshakes run at once, 1..number of CPUs (default CPUs / 2, at least 1)").build());
        o.addOption(Option.builder("n").longOpt("domain").hasArg().argName("domain_name").desc("domain for -u (default from the host name)").build());
        o.addOption(Option.builder("p").longOpt("verifydir").hasArg().argName("CApath").desc("hashed CA directory for client certificates").build());
        o.addOption(Option.builder("r").longOpt("crl").hasArg().argName("CRLfile").desc("CRL file, reloaded on SIGHUP").build());
        o.addOption(Option.builder("u").longOpt("certuser").desc("map the certificate's otherName user@domain to uid and gids").build());
        o.addOption(Option.builder("v").longOpt("verbose").desc("log activity: the same as --log-level debug").build());
        o.addOption(Option.builder().longOpt("log-level").hasArg().argName("error|warning|info|debug")
                .desc("the least a line must be to be logged (default info; debug is the daemon's own detail, the libraries' "
                        + "lines stay at warning); given, it wins over -v").build());
        o.addOption(Option.builder().longOpt("syslog-facility").hasArg().argName("name")
                .desc("the syslog facility of a detached daemon's lines: daemon (default), auth, authpriv, user, local0 to "
                        + "local7...; not for -d (under systemd the journal takes the unit's SyslogFacility=)").build());
        o.addOption(Option.builder("W").longOpt("multiwild").desc("-h: a wildcard may match several labels").build());
        o.addOption(Option.builder("w").longOpt("singlewild").desc("-h: a wildcard matches one label").build());
        o.addOption(Option.builder().longOpt("pidfile").hasArg().argName("path")
                .desc("pidfile (default " + Config.DEFAULT_PIDFILE + ")").build());
        o.addOption(Option.builder().longOpt("no-pidfile")
                .desc("run without a pidfile (and without its lock against a second instance), whatever --pidfile says").build());
        o.addOption(Option.builder().longOpt("rpc-address").hasArg().argName("addr:port")
                .desc("address of the RPCTLSSD service (default 127.0.0.1:0, a free port, registered with rpcbind)").build());
        o.addOption(Option.builder().longOpt("rpc-max-connections").hasArg().argName("num")
                .desc("connections to the RPCTLSSD service at once (default 64)").build());
        o.addOption(Option.builder().longOpt("rpc-idle-timeout").hasArg().argName("seconds")
                .desc("close an RPCTLSSD connection idle this long (default 600)").build());
        o.addOption(Option.builder().longOpt("connect-queue").hasArg().argName("num")
                .desc("CONNECT calls waiting for a worker before more are refused (default 1024)").build());
        o.addOption(Option.builder().longOpt("handshake-timeout").hasArg().argName("seconds")
                .desc("give up a handshake not done in this time (default 10; fractions allowed)").build());
        o.addOption(Option.builder().longOpt("groups").hasArg().argName("groups")
                .desc("key-exchange groups, colon-separated, in order of preference (default "
                        + "X25519MLKEM768:SecP256r1MLKEM768:x25519:secp256r1:secp384r1)").build());
        o.addOption(Option.builder().longOpt("allow-subject").hasArg().argName("DN")
                .desc("only verified client certificates with this RFC 2253 subject (exact, or a glob with * and ?) count as verified; repeatable").build());
        o.addOption(Option.builder().longOpt("allow-san").hasArg().argName("name")
                .desc("only verified client certificates with this DNS or URI subjectAltName (a glob) count as verified; repeatable").build());
        o.addOption(Option.builder().longOpt("require-eku")
                .desc("only verified client certificates with the extended key usage id-kp-rpcTLSClient count as verified").build());
        o.addOption(Option.builder().longOpt("require-alpn")
                .desc("refuse clients that do not offer ALPN \"sunrpc\" (RFC 9289 section 5)").build());
        o.addOption(Option.builder().longOpt("throwaway-cert")
                .desc("serve a self-signed certificate made at start-up instead of certdir's (for trying it out)").build());
        o.addOption(Option.builder().longOpt("listen").hasArg().argName("addr:port")
                .desc("RFC 9289 front end: accept RPC clients here (repeatable; IPv4 or [IPv6])").build());
        o.addOption(Option.builder().longOpt("backend").hasArg().argName("host:port")
                .desc("the plain ONC-RPC server the front end relays to").build());
        o.addOption(Option.builder().longOpt("relay").hasArg().argName("listen,backend[,program[/vers+...]]...")
                .desc("RFC 9289 front end: accept RPC clients at listen (addr:port) and relay them to backend (host:port); the "
                        + "programs named (nfs, mountd, nlockmgr, status, rquotad, nfs_acl or a number with its versions) are "
                        + "registered with rpcbind at the listen port where nobody has registered them; repeatable").build());
        o.addOption(Option.builder().longOpt("backend-source-ports").hasArg().argName("reserved|any|low-high")
                .desc("front end: the local ports backend connections come from (default reserved, " + SourcePortRange.RESERVED.low()
                        + "-" + SourcePortRange.RESERVED.high() + ", when the daemon may bind them: NFS servers' secure exports "
                        + "want them; else any)").build());
        o.addOption(Option.builder().longOpt("backend-source").hasArg().argName("addr")
                .desc("front end: a local address backend connections come from; repeatable: each adds a range of reserved "
                        + "ports (default: the kernel's choice of address)").build());
        o.addOption(Option.builder().longOpt("accept-proxy-from").hasArg().argName("cidr")
                .desc("front end: connections from these addresses must begin with a PROXY protocol header (v1 or v2), whose source "
                        + "address then stands for the client; repeatable").build());
        o.addOption(Option.builder().longOpt("backend-proxy").hasArg().argName("v1|v2")
                .desc("front end: begin each backend connection with a PROXY protocol header carrying the client's address "
                        + "(v2: with its TLS details)").build());
        o.addOption(Option.builder().longOpt("require").hasArg().argName("none|tls|cert|certuser")
                .desc("front end: the least a connection needs for calls other than NULL (default none)").build());
        o.addOption(Option.builder().longOpt("idle-timeout").hasArg().argName("seconds")
                .desc("front end: close a client connection idle this long (default 360)").build());
        o.addOption(Option.builder().longOpt("upcall-timeout").hasArg().argName("seconds")
                .desc("front end: give up a CONNECT upcall after this long (default 15)").build());
        o.addOption(Option.builder().longOpt("write-timeout").hasArg().argName("seconds")
                .desc("front end: close a connection whose client or backend took no bytes for this long (default 30)").build());
        o.addOption(Option.builder().longOpt("max-clients").hasArg().argName("num")
                .desc("front end: client connections at once; at the limit the longest-idle connections that have earned least "
                        + "are closed to make room (default " + Config.DEFAULT_MAX_CLIENTS + ")").build());
        o.addOption(Option.builder().longOpt("first-call-timeout").hasArg().argName("seconds")
                .desc("front end: close a new client that has not had its STARTTLS probe answered or a call relayed within "
                        + "this time (default " + Config.DEFAULT_FIRST_CALL_TIMEOUT.toSeconds() + "; fractions allowed)").build());
        o.addOption(Option.builder().longOpt("memory-budget").hasArg().argName("MiB")
                .desc("front end: bytes all connections may hold at once; at the limit accepting pauses and the connections holding the most unfinished memory are closed (default half the maximum heap)").build());
        o.addOption(Option.builder().longOpt("rpc-socket").hasArg().argName("path")
                .desc("Unix-domain socket of the RPCTLSSD service, mode 0600, for root and the daemon's user only (default "
                        + Config.DEFAULT_RPC_SOCKET + ")").build());
        o.addOption(Option.builder().longOpt("io-threads").hasArg().argName("num")
                .desc("front end: event loops, each serving its share of the connections (default: number of CPUs)").build());
        o.addOption(Option.builder().longOpt("rpc-insecure")
                .desc("answer CONNECT, HANDLERECORD and DISCONNECT on TCP and UDP from unprivileged ports too (for testing only)").build());
        o.addOption(Option.builder().longOpt("no-rpcbind").desc("do not register with rpcbind").build());
        o.addOption(Option.builder().longOpt("metrics").hasArg().argName("addr:port")
                .desc("serve Prometheus metrics on /metrics and readiness on /ready here (default off; bind it to loopback)").build());
        o.addOption(Option.builder().longOpt("config").hasArg().argName("file")
                .desc("read options from this file, lines \"name = value\" or \"name\"; the command line overrides it").build());
        o.addOption(Option.builder().longOpt("check").desc("check the options, files and addresses as a start would, then exit (0: valid)").build());
        o.addOption(Option.builder().longOpt("version").desc("print the version and exit").build());
        o.addOption(Option.builder().longOpt("help").desc("show this help and exit").build());
        return o;
    }

    /** The full help text for --help. */
    public String help() {
        StringWriter sw = new StringWriter();
        PrintWriter pw = new PrintWriter(sw);
        HelpFormatter f = HelpFormatter.builder().get();
        pw.println(usage());
        f.printOptions(pw, 100, options(), 2, 3);
        pw.flush();
        return sw.toString();
    }

    /** True when the arguments ask for --help (which then wins over everything else). */
    public static boolean wantsHelp(String[] args) {
        return asks(args, "--help");
    }

    /** True when {@code action} is among the arguments, before any "--". */
    private static boolean asks(String[] args, String action) {
        for (String a : args) {
            if (a.equals(action)) {
                return true;
            }
            if (a.equals("--")) {
                return false;
            }
        }
        return false;
    }

    /** The project's version, as Maven built it ("unknown" when run from classes that were not). */
    public static String version() {
        try (java.io.InputStream in = Cli.class.getResourceAsStream("/org/rpctlsservd/version.properties")) {
            if (in != null) {
                java.util.Properties p = new java.util.Properties();
                p.load(in);
                String v = p.getProperty("version", "");
                if (!v.isEmpty() && !v.startsWith("${")) {
                    return v;
                }
            }
        } catch (java.io.IOException e) {
            // falls through
        }
        return "unknown";
    }

    /** True when the arguments ask for --version (after --help, it wins over everything else). */
    public static boolean wantsVersion(String[] args) {
        return asks(args, "--version");
    }

    /** The long option names a config file may use: every option that has one, but the actions and --config itself. */
    public static java.util.Set<String> configNames() {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (Option o : options().getOptions()) {
            if (o.getLongOpt() != null && !ConfigFile.NOT_IN_FILES.contains(o.getLongOpt())) {
                names.add(o.getLongOpt());
            }
        }
        return names;
    }

    /** Every long option name, as --help lists them. */
    public static java.util.Set<String> longNames() {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (Option o : options().getOptions()) {
            names.add(o.getLongOpt());
        }
        return names;
    }

    /**
     * Parses and checks {@code args}; a refusal carries the exact text for stderr. With
     * {@code --config FILE}, the file's options come first and the command line's after them; an
     * option the command line gives replaces the file's (all its {@code --listen}s too).
     */
    public Config parse(String[] args) throws UsageException {
        CommandLine first = commandLine(args);
        String file = first.getOptionValue("config");
        if (file == null) {
            return check(first);
        }
        java.util.Set<String> given = new java.util.HashSet<>();
        for (Option o : first.getOptions()) {
            if (o.getLongOpt() != null) {
                given.add(o.getLongOpt());
            }
        }
        java.util.List<String> merged = new java.util.ArrayList<>(ConfigFile.read(progname, Path.of(file), options(), given));
        merged.addAll(java.util.Arrays.asList(args));
        return check(commandLine(merged.toArray(new String[0])));
    }

    private CommandLine commandLine(String[] args) throws UsageException {
        CommandLine cmd;
        try {
            cmd = DefaultParser.builder().setAllowPartialMatching(true).get().parse(options(), args);
        } catch (AmbiguousOptionException e) {
            throw new UsageException(progname + ": option `" + e.getOption() + "' is ambiguous\n" + usage());
        } catch (UnrecognizedOptionException e) {
            String opt = e.getOption();
            String what = opt.startsWith("--") ? "unrecognized option `" + opt + "'" : "illegal option -- " + opt.substring(1);
            throw new UsageException(progname + ": " + what + "\n" + usage());
        } catch (MissingArgumentException e) {
            Option o = e.getOption();
            String name = o.getOpt() != null ? o.getOpt() : o.getLongOpt();
            throw new UsageException(progname + ": option requires an argument -- " + name + "\n" + usage());
        } catch (ParseException e) {
            throw new UsageException(progname + ": " + e.getMessage() + "\n" + usage());
        }
        if (!cmd.getArgList().isEmpty()) {
            throw new UsageException(progname + ": unexpected argument `" + cmd.getArgList().get(0) + "'\n" + usage());
        }
        return cmd;
    }

    private Config check(CommandLine cmd) throws UsageException {

        boolean allowTls12 = false;
        String ciphers = null;
        String certDir = Config.DEFAULT_CERTDIR;
        int debug = 0;
        boolean checkHost = false;
        String caFile = null;
        boolean mutual = false;
        int maxThreads = Math.max(1, ncpu / 2);
        String domain = null;
        String caPath = null;
        String crl = null;
        boolean certUser = false;
        boolean verbose = false;
        int wildcard = Config.NO_WILDCARDS;
        Path pidFile = Config.DEFAULT_PIDFILE;
        boolean noPidFile = false;
        InetSocketAddress rpcAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        int maxConnections = 64;
        int connectQueue = 1024;
        Duration idle = Duration.ofMinutes(10);
        boolean rpcbind = true;
        Duration handshakeTimeout = Duration.ofSeconds(10);
        boolean requireAlpn = false;
        boolean throwaway = false;
        java.util.List<InetSocketAddress> listen = new java.util.ArrayList<>();
        InetSocketAddress backend = null;
        Require require = Require.NONE;
        Duration frontIdle = Duration.ofMinutes(6);
        Duration upcall = Duration.ofSeconds(15);
        Duration writeTimeout = Config.DEFAULT_WRITE_TIMEOUT;
        long memoryBudget = 0;
        Path rpcSocket = Config.DEFAULT_RPC_SOCKET;
        boolean rpcInsecure = false;
        int ioThreads = ncpu;
        InetSocketAddress metrics = null;
        boolean checkOnly = false;
        String groups = null;
        java.util.List<String> allowSubjects = new java.util.ArrayList<>();
        java.util.List<String> allowSans = new java.util.ArrayList<>();
        boolean requireEku = false;
        java.util.List<org.rpctlsservd.proxy.Cidr> acceptProxyFrom = new java.util.ArrayList<>();
        int backendProxy = 0;
        String keyUri = null;
        Path keyPassphraseFile = null;
        int maxClients = Config.DEFAULT_MAX_CLIENTS;
        Duration firstCallTimeout = Config.DEFAULT_FIRST_CALL_TIMEOUT;
        java.util.List<Relay> relays = new java.util.ArrayList<>();
        SourcePortRange sourcePorts = SourcePortRange.RESERVED;
        java.util.List<InetAddress> backendSources = new java.util.ArrayList<>();
        java.util.logging.Level logLevel = null;
        int syslogFacility = Config.DEFAULT_SYSLOG_FACILITY;

        // In command-line order, as getopt sees them: the first refused option decides the message.
        for (Option o : cmd.getOptions()) {
            String key = o.getOpt() != null ? o.getOpt() : o.getLongOpt();
            String v = o.getValue();
            switch (key) {
                case "2": allowTls12 = true; break;
                case "C": ciphers = v; break;
                case "D": certDir = v; break;
                case "d": debug++; break;
                case "h": checkHost = true; break;
                case "l": caFile = v; break;
                case "m": mutual = true; break;
                case "N": {
                    long n = atoi(v);
                    if (n < 1 || n > ncpu) {
                        throw new UsageException(progname + ": maximum threads must be between 1 and number of CPUs (" + ncpu + ")");
                    }
                    maxThreads = (int) n;
                    break;
                }
                case "n": domain = "@" + (v.length() > 256 ? v.substring(0, 256) : v); break;
                case "p": caPath = v; break;
                case "r": crl = v; break;
                case "u": certUser = true; break;
                case "v": verbose = true; break;
                case "W":
                case "w":
                    if (wildcard != Config.NO_WILDCARDS) {
                        throw new UsageException(progname + ": options -w and -W are mutually exclusive");
                    }
                    wildcard = key.equals("w") ? 0 : Config.MULTI_LABEL_WILDCARDS;
                    break;
                case "pidfile": pidFile = Path.of(v); break;
                case "no-pidfile": noPidFile = true; break;
                case "rpc-address": rpcAddress = hostPort("--rpc-address", v); break;
                case "rpc-max-connections": maxConnections = positive("--rpc-max-connections", v, 1_000_000); break;
                case "rpc-idle-timeout": idle = Duration.ofSeconds(positive("--rpc-idle-timeout", v, 86_400 * 365)); break;
                case "connect-queue": connectQueue = positive("--connect-queue", v, 1_000_000); break;
                case "no-rpcbind": rpcbind = false; break;
                case "handshake-timeout": handshakeTimeout = seconds("--handshake-timeout", v); break;
                case "require-alpn": requireAlpn = true; break;
                case "throwaway-cert": throwaway = true; break;
                case "listen": listen.add(hostPort("--listen", v)); break;
                case "backend": backend = hostPort("--backend", v); break;
                case "relay": relays.add(relay(v)); break;
                case "backend-source-ports": sourcePorts = sourcePorts(v); break;
                case "backend-source": backendSources.add(literal("--backend-source", v)); break;
                case "require":
                    try {
                        require = Require.valueOf(v.toUpperCase(java.util.Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(progname + ": --require takes none, tls, cert or certuser, not `" + v + "'");
                    }
                    break;
                case "idle-timeout": frontIdle = seconds("--idle-timeout", v); break;
                case "upcall-timeout": upcall = seconds("--upcall-timeout", v); break;
                case "write-timeout": writeTimeout = seconds("--write-timeout", v); break;
                case "max-clients": maxClients = (int) positive("--max-clients", v, 1_000_000); break;
                case "first-call-timeout": firstCallTimeout = seconds("--first-call-timeout", v); break;
                case "memory-budget": memoryBudget = positive("--memory-budget", v, 1 << 20) * 1024L * 1024; break;
                case "rpc-socket":
                    if (!v.startsWith("/") || v.length() > 107) {
                        throw new UsageException(progname + ": --rpc-socket takes an absolute path of at most 107 bytes, not `" + v + "'");
                    }
                    rpcSocket = Path.of(v);
                    break;
                case "rpc-insecure": rpcInsecure = true; break;
                case "io-threads": ioThreads = (int) positive("--io-threads", v, 256); break;
                case "metrics": metrics = hostPort("--metrics", v); break;
                case "groups": groups = v; break;
                case "allow-subject": allowSubjects.add(v); break;
                case "allow-san": allowSans.add(v); break;
                case "require-eku": requireEku = true; break;
                case "key-uri":
                    try {
                        org.rpctlsservd.certs.TokenKey.parse(v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(progname + ": --key-uri: " + e.getMessage());
                    }
                    keyUri = v;
                    break;
                case "key-passphrase-file": keyPassphraseFile = Path.of(v); break;
                case "accept-proxy-from":
                    try {
                        acceptProxyFrom.add(org.rpctlsservd.proxy.Cidr.parse(v));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(progname + ": --accept-proxy-from: " + e.getMessage());
                    }
                    break;
                case "backend-proxy":
                    if (!v.equals("v1") && !v.equals("v2")) {
                        throw new UsageException(progname + ": --backend-proxy takes v1 or v2, not `" + v + "'");
                    }
                    backendProxy = v.equals("v1") ? 1 : 2;
                    break;
                case "log-level":
                    logLevel = LOG_LEVELS.get(v.toLowerCase(java.util.Locale.ROOT));
                    if (logLevel == null) {
                        throw new UsageException(progname + ": --log-level takes error, warning, info or debug, not `" + v + "'");
                    }
                    break;
                case "syslog-facility":
                    Integer f = FACILITIES.get(v.toLowerCase(java.util.Locale.ROOT));
                    if (f == null) {
                        throw new UsageException(progname + ": --syslog-facility takes a syslog facility (" + String.join(", ", FACILITIES.keySet())
                                + "), not `" + v + "'");
                    }
                    syslogFacility = f;
                    break;
                case "check": checkOnly = true; break;
                case "config":
                case "version":
                case "help": break;
                default: throw new IllegalStateException("option without a handler: " + key);
            }
        }
        boolean haveCa = caFile != null || caPath != null;
        if (mutual && !haveCa) {
            throw new UsageException(progname + ": -m requires the -l <CAfile> and/or -p <CApath> options");
        }
        if (checkHost && !(mutual && haveCa)) {
            throw new UsageException(progname + ": -h requires the -m plus the -l <CAfile> and/or -p <CApath> options");
        }
        if (wildcard != Config.NO_WILDCARDS && !checkHost) {
            throw new UsageException(progname + ": The -w or -W options require the -h option");
        }
        if (certUser && !(mutual && haveCa)) {
            throw new UsageException(progname + ": -u requires the -m plus the -l <CAfile> and/or -p <CApath> options");
        }
        if ((!allowSubjects.isEmpty() || !allowSans.isEmpty() || requireEku) && !(mutual && haveCa)) {
            throw new UsageException(progname + ": --allow-subject, --allow-san and --require-eku require the -m plus the -l <CAfile> and/or -p <CApath> options");
        }
        if (keyUri != null && keyPassphraseFile != null) {
            throw new UsageException(progname + ": --key-uri and --key-passphrase-file are mutually exclusive");
        }
        if ((keyUri != null || keyPassphraseFile != null) && throwaway) {
            throw new UsageException(progname + ": --key-uri and --key-passphrase-file do not go with --throwaway-cert");
        }
        if (!listen.isEmpty() && backend == null) {
            throw new UsageException(progname + ": --listen requires --backend <host:port>");
        }
        if (listen.isEmpty() && backend != null) {
            throw new UsageException(progname + ": --backend needs --listen <addr:port> (a --relay names its own backend)");
        }
        if (listen.isEmpty() && relays.isEmpty() && (require != Require.NONE || !acceptProxyFrom.isEmpty() || backendProxy != 0
                || sourcePorts != SourcePortRange.RESERVED || !backendSources.isEmpty())) {
            throw new UsageException(progname + ": --require, --accept-proxy-from, --backend-proxy, --backend-source-ports and "
                    + "--backend-source need --listen <addr:port> or --relay");
        }
        java.util.Set<InetSocketAddress> listening = new java.util.HashSet<>();
        for (InetSocketAddress a : listen) {
            listening.add(a);
        }
        for (Relay r : relays) {
            if (r.listen().getPort() != 0 && !listening.add(r.listen())) {
                throw new UsageException(progname + ": --relay: " + org.rpctlsservd.guard.LogText.address(r.listen()) + " is listened on twice");
            }
        }
        if (domain == null) {
            domain = defaultDomain(hostname, canonicalName);
        }
        return new Config(allowTls12, ciphers, certDir, debug, checkHost, caFile, mutual, maxThreads, domain, caPath,
                crl, certUser, verbose, wildcard, noPidFile ? null : pidFile, rpcAddress, maxConnections, connectQueue, idle, rpcbind, 111,
                handshakeTimeout, requireAlpn, throwaway, listen, backend, require, frontIdle, upcall, writeTimeout, memoryBudget,
                rpcSocket, rpcInsecure, ioThreads, metrics, checkOnly, groups, allowSubjects, allowSans, requireEku, acceptProxyFrom,
                backendProxy, keyUri, keyPassphraseFile, maxClients, firstCallTimeout, relays, sourcePorts, backendSources,
                logLevel != null ? logLevel : verbose ? java.util.logging.Level.FINE : java.util.logging.Level.INFO, syslogFacility);
    }

    /** --log-level's names: syslog's severities as java.util.logging has them. */
    private static final java.util.Map<String, java.util.logging.Level> LOG_LEVELS = java.util.Map.of(
            "error", java.util.logging.Level.SEVERE, "warning", java.util.logging.Level.WARNING,
            "info", java.util.logging.Level.INFO, "debug", java.util.logging.Level.FINE);

    /** --syslog-facility's names and codes, as syslog(3) and logger(1) name them. */
    private static final java.util.Map<String, Integer> FACILITIES = facilities();

    private static java.util.Map<String, Integer> facilities() {
        java.util.Map<String, Integer> m = new java.util.LinkedHashMap<>();
        String[] names = {"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"};
        for (int i = 1; i < names.length; i++) { // not kern: logger(1) takes facility 0 in a prefix for "none given"
            m.put(names[i], i);
        }
        for (int i = 0; i < 8; i++) {
            m.put("local" + i, 16 + i);
        }
        m.put("security", 4); // syslog(3)'s old name for auth
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Programs a --relay may name, as /etc/rpc spells them, with the versions NFS servers register. */
    private static final java.util.Map<String, Relay.Program> KNOWN_PROGRAMS = java.util.Map.of(
            "nfs", new Relay.Program(100003, "nfs", java.util.List.of(3, 4)),
            "mountd", new Relay.Program(100005, "mountd", java.util.List.of(1, 3)),
            "nlockmgr", new Relay.Program(100021, "nlockmgr", java.util.List.of(1, 3, 4)),
            "status", new Relay.Program(100024, "status", java.util.List.of(1)),
            "rquotad", new Relay.Program(100011, "rquotad", java.util.List.of(1, 2)),
            "nfs_acl", new Relay.Program(100227, "nfs_acl", java.util.List.of(3)));

    /** --relay LISTEN,BACKEND[,PROGRAM[/VERS+VERS...]]... */
    private Relay relay(String v) throws UsageException {
        String[] parts = v.split(",", -1);
        if (parts.length < 2) {
            throw new UsageException(progname + ": --relay takes LISTEN,BACKEND[,PROGRAM...] (for example 0.0.0.0:2049,127.0.0.1:12049,nfs),"
                    + " not `" + v + "'");
        }
        InetSocketAddress listen = hostPort("--relay (listen)", parts[0].strip());
        InetSocketAddress backend = hostPort("--relay (backend)", parts[1].strip());
        java.util.List<Relay.Program> programs = new java.util.ArrayList<>();
        for (int i = 2; i < parts.length; i++) {
            programs.add(program(parts[i].strip()));
        }
        return new Relay(listen, backend, programs);
    }

    private Relay.Program program(String p) throws UsageException {
        int slash = p.indexOf('/');
        String name = (slash < 0 ? p : p.substring(0, slash)).toLowerCase(java.util.Locale.ROOT);
        Relay.Program known = KNOWN_PROGRAMS.get(name.equals("mount") ? "mountd" : name);
        int number;
        if (known != null) {
            number = known.number();
        } else {
            try {
                number = Integer.parseUnsignedInt(name);
            } catch (NumberFormatException e) {
                throw new UsageException(progname + ": --relay: unknown program `" + name + "' (nfs, mountd, nlockmgr, status, rquotad,"
                        + " nfs_acl, or a number with its versions: 400000/1)");
            }
        }
        if (slash < 0) {
            if (known == null) {
                throw new UsageException(progname + ": --relay: program " + name + " needs its versions: " + name + "/1 or " + name + "/1+2");
            }
            return known;
        }
        java.util.List<Integer> versions = new java.util.ArrayList<>();
        for (String x : p.substring(slash + 1).split("\\+", -1)) {
            int n;
            try {
                n = Integer.parseInt(x.strip());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 0 || versions.contains(n)) {
                throw new UsageException(progname + ": --relay: bad versions in `" + p + "' (versions are numbers joined by +: nfs/3+4)");
            }
            versions.add(n);
        }
        return new Relay.Program(number, known != null ? known.name() : null, versions);
    }

    /** --backend-source-ports reserved|any|LOW-HIGH */
    private SourcePortRange sourcePorts(String v) throws UsageException {
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
        throw new UsageException(progname + ": --backend-source-ports takes reserved, any or LOW-HIGH (1 to 65535), not `" + v + "'");
    }

    /** An IP address written out (no name lookups: a source address is this host's own). */
    private InetAddress literal(String name, String v) throws UsageException {
        try {
            return org.rpctlsservd.proxy.IpLiteral.either(v.startsWith("[") && v.endsWith("]") ? v.substring(1, v.length() - 1) : v);
        } catch (org.rpctlsservd.proxy.IpLiteral.NotALiteral e) {
            throw new UsageException(progname + ": " + name + " takes an IP address, not `" + v + "'");
        }
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

    private int positive(String name, String v, int max) throws UsageException {
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1 && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new UsageException(progname + ": " + name + " must be a whole number from 1 to " + max + ", not `" + v + "'");
    }

    private Duration seconds(String name, String v) throws UsageException {
        try {
            double d = Double.parseDouble(v.trim());
            if (d >= 0.001 && d <= 86_400) {
                return Duration.ofMillis(Math.round(d * 1000));
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new UsageException(progname + ": " + name + " takes seconds from 0.001 to 86400, not `" + v + "'");
    }

    private InetSocketAddress hostPort(String name, String v) throws UsageException {
        int colon = v.lastIndexOf(':');
        if (colon <= 0 || colon == v.length() - 1) {
            throw new UsageException(progname + ": " + name + " takes ADDR:PORT, not `" + v + "'");
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
            throw new UsageException(progname + ": " + name + ": bad port in `" + v + "'");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new UsageException(progname + ": " + name + ": unknown address `" + host + "'");
        }
    }

    /**
     * The C daemon's default -u domain: the host name from its first dot on, with "@" for the dot;
     * else the canonical name's part after its first dot; else "@default.domain".
     */
    static String defaultDomain(String hostname, Function<String, String> canonicalName) {
        int dot = hostname.indexOf('.');
        if (dot >= 0 && dot + 1 < hostname.length()) {
            return "@" + hostname.substring(dot + 1);
        }
        String canonical = canonicalName.apply(hostname);
        if (canonical != null) {
            int cdot = canonical.indexOf('.');
            if (cdot >= 0 && cdot + 1 < canonical.length()) {
                return "@" + canonical.substring(cdot + 1);
            }
        }
        return "@default.domain";
    }
}
