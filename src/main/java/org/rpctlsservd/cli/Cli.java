package org.rpctlsservd.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
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
 * of this implementation; each declared in {@link Opt}, with the rules between them in
 * {@link Rules}. Commons CLI reads the arguments; {@link ConfigFile} a {@code --config} file.
 */
public final class Cli {
    public static final String DEFAULT_PROGNAME = "rpc.tlsservd";
    public static final String CLIENT_PROGNAME = "rpc.tlsclntd";

    private final Opt.Side program;
    private final String progname;
    private final Opt.Host host;

    /**
     * @param progname      argv[0] as shown in messages
     * @param ncpu          online CPUs: the -N range and the default cap
     * @param hostname      this host's name, for the default -u domain
     * @param canonicalName resolves a host name to its canonical name (null when it cannot)
     */
    public Cli(String progname, int ncpu, String hostname, Function<String, String> canonicalName) {
        this(Opt.Side.SERVER, progname, ncpu, hostname, canonicalName);
    }

    /** The command line of {@code program}: rpc.tlsservd's (SERVER) or rpc.tlsclntd's (CLIENT). */
    public Cli(Opt.Side program, String progname, int ncpu, String hostname, Function<String, String> canonicalName) {
        if (program == Opt.Side.BOTH) {
            throw new IllegalArgumentException("a program is the server or the client");
        }
        this.program = program;
        this.progname = progname;
        this.host = new Opt.Host(ncpu, hostname, canonicalName);
    }

    /** rpc.tlsservd's command line for the running system: online CPUs, gethostname() and DNS for the canonical name. */
    public static Cli forThisHost(String progname) {
        return forThisHost(Opt.Side.SERVER, progname);
    }

    /** {@code program}'s command line for the running system. */
    public static Cli forThisHost(Opt.Side program, String progname) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "localhost");
        }
        return new Cli(program, progname, Runtime.getRuntime().availableProcessors(), host, name -> {
            try {
                return InetAddress.getByName(name).getCanonicalHostName();
            } catch (UnknownHostException e) {
                return null;
            }
        });
    }

    public int ncpu() {
        return host.ncpu();
    }

    /** Whose command line this is. */
    public Opt.Side program() {
        return program;
    }

    /** The usage line: the options that have a short name, as the C daemon's (ours lists -N, which its current one omits). */
    public String usage() {
        StringBuilder b = new StringBuilder("usage: " + progname);
        for (Opt<?> o : Opt.of(program)) {
            if (o.shortName() != null) {
                b.append(" [").append(o).append(o.takesArgument() ? " " + o.argName() : "").append(']');
            }
        }
        return b.toString();
    }

    /** The Commons CLI options: {@code program}'s, as they are declared. */
    static Options options(Opt.Side program) {
        Options o = new Options();
        for (Opt<?> opt : Opt.of(program)) {
            Option.Builder b = Option.builder(opt.shortName()).longOpt(opt.longName()).desc(opt.help(program));
            if (opt.takesArgument()) {
                b.hasArg().argName(opt.argName());
            }
            o.addOption(b.build());
        }
        return o;
    }

    /** The full help text for --help. */
    public String help() {
        StringWriter sw = new StringWriter();
        PrintWriter pw = new PrintWriter(sw);
        HelpFormatter f = HelpFormatter.builder().get();
        pw.println(usage());
        f.printOptions(pw, 100, options(program), 2, 3);
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

    /** The long option names rpc.tlsservd's config file may use: every option's, but the actions' and --config's. */
    public static java.util.Set<String> configNames() {
        return configNames(Opt.Side.SERVER);
    }

    /** The long option names {@code program}'s config file may use. */
    public static java.util.Set<String> configNames(Opt.Side program) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (Opt<?> o : Opt.of(program)) {
            if (o.inFile()) {
                names.add(o.longName());
            }
        }
        return names;
    }

    /** Every long option name of rpc.tlsservd, as --help lists them. */
    public static java.util.Set<String> longNames() {
        return longNames(Opt.Side.SERVER);
    }

    /** Every long option name of {@code program}. */
    public static java.util.Set<String> longNames(Opt.Side program) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (Opt<?> o : Opt.of(program)) {
            names.add(o.longName());
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
        java.util.List<String> merged = new java.util.ArrayList<>(ConfigFile.read(program, progname, Path.of(file), given));
        merged.addAll(java.util.Arrays.asList(args));
        return check(commandLine(merged.toArray(new String[0])));
    }

    private CommandLine commandLine(String[] args) throws UsageException {
        CommandLine cmd;
        try {
            cmd = DefaultParser.builder().setAllowPartialMatching(true).get().parse(options(program), args);
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

    /**
     * Each option's own check in command-line order, as getopt sees them (the first refused option
     * decides the message), then the rules between them.
     */
    private Config check(CommandLine cmd) throws UsageException {
        java.util.Map<Opt<?>, Object> values = new java.util.HashMap<>();
        Opt.SoFar soFar = new Opt.SoFar() {
            @Override
            public <V> V get(Opt<V> option) {
                @SuppressWarnings("unchecked")
                V v = values.containsKey(option) ? (V) values.get(option) : option.defaultValue(host);
                return v;
            }

            @Override
            public Opt.Host host() {
                return host;
            }
        };
        for (Option o : cmd.getOptions()) {
            Opt<?> opt = Opt.byLongName(program, o.getLongOpt());
            if (!opt.setting()) {
                continue;
            }
            try {
                values.put(opt, opt.next(o.getValue(), soFar));
            } catch (UsageException e) {
                throw new UsageException(progname + ": " + e.getMessage());
            }
        }
        for (Opt<?> opt : Opt.of(program)) {
            if (opt.setting() && !values.containsKey(opt)) {
                values.put(opt, opt.defaultValue(host));
            }
        }
        Config config = new Config(program, host, values);
        try {
            Rules.check(program, config);
        } catch (UsageException e) {
            throw new UsageException(progname + ": " + e.getMessage());
        }
        return config;
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
