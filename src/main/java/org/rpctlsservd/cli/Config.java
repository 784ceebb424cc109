package org.rpctlsservd.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.logging.Level;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.proxy.Cidr;

/**
 * Everything the command line decided, validated: a value for each option of its program
 * ({@link Opt#of}), read with {@link #get(Opt)} or the typed accessors below. Values are held by
 * long name, so an accessor shared by both daemons ({@link #pidFile()}, {@link #certDir()}) reads
 * whichever program's option of that name this is; an option the program does not have reads as
 * its default.
 */
public final class Config {
    /** X509_CHECK_FLAG_NO_WILDCARDS: the default host-check mode. */
    public static final int NO_WILDCARDS = 0x2;
    /** X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS, set by -W. */
    public static final int MULTI_LABEL_WILDCARDS = 0x8;

    private final Opt.Side program;
    private final Opt.Host host;
    /** By long name: one for each of the program's settings. */
    private final Map<String, Object> values;

    /** {@code values}: one for every setting of {@code program} (null where the option has none), and nothing else. */
    Config(Opt.Side program, Opt.Host host, Map<Opt<?>, Object> values) {
        Map<String, Object> byName = new HashMap<>();
        for (Opt<?> o : Opt.of(program)) {
            if (o.setting() != values.containsKey(o)) {
                throw new IllegalArgumentException((o.setting() ? "no value for " : "not a setting: ") + o);
            }
            if (o.setting()) {
                byName.put(o.longName(), values.get(o));
            }
        }
        if (byName.size() != values.size()) {
            throw new IllegalArgumentException("a value for an option " + program + " does not have");
        }
        this.program = program;
        this.host = host;
        this.values = Collections.unmodifiableMap(byName);
    }

    /** Whose options these are: the server's or the client's. */
    public Opt.Side program() {
        return program;
    }

    /** The value of {@code option}, or of this program's option of the same name; the default when the program has none. */
    @SuppressWarnings("unchecked")
    public <T> T get(Opt<T> option) {
        if (!option.setting()) {
            throw new IllegalArgumentException(option + " is an action, not a setting");
        }
        return values.containsKey(option.longName()) ? (T) values.get(option.longName()) : option.defaultValue(host);
    }

    /**
     * This configuration with one option's value changed, and no other: for tests, which name the
     * one option they change. The rules between options ({@link Rules}) are the parser's, not
     * checked again here.
     */
    public <T> Config with(Opt<T> option, T value) {
        Map<Opt<?>, Object> changed = new HashMap<>();
        for (Opt<?> o : Opt.of(program)) {
            if (o.setting()) {
                changed.put(o, values.get(o.longName()));
            }
        }
        Opt<?> own = Opt.byLongName(program, option.longName());
        if (own == null) {
            throw new IllegalArgumentException(program + " has no option " + option);
        }
        changed.put(own, value instanceof List<?> l ? List.copyOf(l) : value);
        return new Config(program, host, changed);
    }

    /**
     * The options, by long name in --help's order, whose values differ between this configuration
     * and {@code next}, but those a reload applies: empty when a reload can go from one to the other.
     */
    public List<String> restartOnlyChanges(Config next) {
        List<String> changed = new ArrayList<>();
        for (Opt<?> o : Opt.of(program)) {
            if (o.setting() && !o.reloads() && !Objects.equals(get(o), next.get(o))) {
                changed.add(o.longName());
            }
        }
        return changed;
    }

    /**
     * The kinds of restriction in force here that {@code next} drops altogether: the subject and
     * name lists (every --allow-subject and --allow-san gone), --require-eku. A reload refuses
     * these: a file cut short looks just like them, and they let more certificates in.
     */
    public List<String> droppedRestrictions(Config next) {
        List<String> dropped = new ArrayList<>();
        if ((!allowSubjects().isEmpty() || !allowSans().isEmpty()) && next.allowSubjects().isEmpty() && next.allowSans().isEmpty()) {
            dropped.add("allow-subject/allow-san list");
        }
        if (requireEku() && !next.requireEku()) {
            dropped.add("require-eku");
        }
        return dropped;
    }

    /** Every relay of the front end: each --listen to --backend, then each --relay. */
    public List<Relay> allRelays() {
        List<Relay> all = new ArrayList<>();
        for (InetSocketAddress l : listen()) {
            all.add(new Relay(l, backend(), List.of()));
        }
        all.addAll(relays());
        return all;
    }

    /** With -d the daemon stays in the foreground and logs to stderr. */
    public boolean foreground() {
        return debugLevel() > 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Config c && program == c.program && values.equals(c.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        java.util.StringJoiner j = new java.util.StringJoiner(", ", "Config[", "]");
        for (Opt<?> o : Opt.of(program)) {
            if (o.setting()) {
                j.add(o.longName() + "=" + get(o));
            }
        }
        return j.toString();
    }

    // ---- values that several options decide ----

    /** Null with --no-pidfile. */
    public Path pidFile() {
        return get(Opt.NO_PIDFILE) ? null : get(Opt.PIDFILE);
    }

    /** -w: 0, -W: {@link #MULTI_LABEL_WILDCARDS}, neither: {@link #NO_WILDCARDS}. */
    public int wildcardFlags() {
        return get(Opt.MULTIWILD) ? MULTI_LABEL_WILDCARDS : get(Opt.SINGLEWILD) ? 0 : NO_WILDCARDS;
    }

    /** --log-level when given, else debug with -v, else info. */
    public Level logLevel() {
        Level l = get(Opt.LOG_LEVEL);
        return l != null ? l : verbose() ? Level.FINE : Level.INFO;
    }

    /** {@link #logLevel()} as --log-level names it: error, warning, info or debug. */
    public String logLevelName() {
        return Parse.logLevelName(logLevel());
    }

    public boolean rpcbind() {
        return !get(Opt.NO_RPCBIND);
    }

    /** rpcbind's well-known port (no option). */
    public int portmapPort() {
        return 111;
    }

    // ---- one option each ----

    public boolean allowTls12() {
        return get(Opt.ALLOW_TLS12);
    }

    public String ciphers() {
        return get(Opt.CIPHERS);
    }

    public String certDir() {
        return get(Opt.CERTDIR);
    }

    public int debugLevel() {
        return get(Opt.DEBUGLEVEL);
    }

    public boolean checkHost() {
        return get(Opt.CHECKHOST);
    }

    public String caFile() {
        return get(Opt.VERIFYLOCS);
    }

    public boolean mutualVerify() {
        return get(Opt.MUTUALVERF);
    }

    public int maxThreads() {
        return get(Opt.MAXTHREADS);
    }

    public String domain() {
        return get(Opt.DOMAIN);
    }

    public String caPath() {
        return get(Opt.VERIFYDIR);
    }

    public String crlFile() {
        return get(Opt.CRL);
    }

    public boolean certUser() {
        return get(Opt.CERTUSER);
    }

    public boolean verbose() {
        return get(Opt.VERBOSE);
    }

    public InetSocketAddress rpcAddress() {
        return get(Opt.RPC_ADDRESS);
    }

    public int maxConnections() {
        return get(Opt.RPC_MAX_CONNECTIONS);
    }

    public int connectQueue() {
        return get(Opt.CONNECT_QUEUE);
    }

    public Duration rpcIdleTimeout() {
        return get(Opt.RPC_IDLE_TIMEOUT);
    }

    public Duration handshakeTimeout() {
        return get(Opt.HANDSHAKE_TIMEOUT);
    }

    public boolean requireAlpn() {
        return get(Opt.REQUIRE_ALPN);
    }

    public boolean throwawayCert() {
        return get(Opt.THROWAWAY_CERT);
    }

    public List<InetSocketAddress> listen() {
        return get(Opt.LISTEN);
    }

    public InetSocketAddress backend() {
        return get(Opt.BACKEND);
    }

    public Require require() {
        return get(Opt.REQUIRE);
    }

    public Duration idleTimeout() {
        return get(Opt.IDLE_TIMEOUT);
    }

    public Duration upcallTimeout() {
        return get(Opt.UPCALL_TIMEOUT);
    }

    public Duration proxyHeaderTimeout() {
        Duration d = get(Opt.PROXY_HEADER_TIMEOUT);
        return d != null ? d : handshakeTimeout(); // a header must be in within the handshake's deadline, as a ClientHello must
    }

    public Duration writeTimeout() {
        return get(Opt.WRITE_TIMEOUT);
    }

    /** Bytes; 0: half the maximum heap. */
    public long memoryBudget() {
        return get(Opt.MEMORY_BUDGET);
    }

    public Path rpcSocket() {
        return get(Opt.RPC_SOCKET);
    }

    public boolean rpcInsecure() {
        return get(Opt.RPC_INSECURE);
    }

    public int ioThreads() {
        return get(Opt.IO_THREADS);
    }

    /** Null: no metrics. */
    public InetSocketAddress metrics() {
        return get(Opt.METRICS);
    }

    public boolean checkOnly() {
        return get(Opt.CHECK);
    }

    public String groups() {
        return get(Opt.GROUPS);
    }

    public List<String> allowSubjects() {
        return get(Opt.ALLOW_SUBJECT);
    }

    public List<String> allowSans() {
        return get(Opt.ALLOW_SAN);
    }

    public boolean requireEku() {
        return get(Opt.REQUIRE_EKU);
    }

    public List<Cidr> acceptProxyFrom() {
        return get(Opt.ACCEPT_PROXY_FROM);
    }

    /** 0: none; else the PROXY protocol version. */
    public int backendProxy() {
        return get(Opt.BACKEND_PROXY);
    }

    public String keyUri() {
        return get(Opt.KEY_URI);
    }

    public Path keyPassphraseFile() {
        return get(Opt.KEY_PASSPHRASE_FILE);
    }

    public int maxClients() {
        return get(Opt.MAX_CLIENTS);
    }

    public Duration firstCallTimeout() {
        return get(Opt.FIRST_CALL_TIMEOUT);
    }

    public List<Relay> relays() {
        return get(Opt.RELAY);
    }

    public SourcePortRange backendSourcePorts() {
        return get(Opt.BACKEND_SOURCE_PORTS);
    }

    public List<InetAddress> backendSources() {
        return get(Opt.BACKEND_SOURCE);
    }

    public int syslogFacility() {
        return get(Opt.SYSLOG_FACILITY);
    }

    // ---- rpc.tlsclntd's (its -l, -p, -m, -D are read by caFile(), caPath(), mutualVerify(), certDir()) ----

    /** -2 of rpc.tlsclntd: TLS 1.2 only. */
    public boolean useTls12() {
        return get(Opt.USETLS12);
    }

    public List<org.rpctlsservd.frontend.Connect> connects() {
        return get(Opt.CONNECT);
    }

    public boolean allowPlain() {
        return get(Opt.ALLOW_PLAIN);
    }

    public SourcePortRange serverSourcePorts() {
        return get(Opt.SERVER_SOURCE_PORTS);
    }

    public List<InetAddress> serverSources() {
        return get(Opt.SERVER_SOURCE);
    }
}
