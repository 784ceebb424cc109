package org.rpctlsservd.cli;

import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/** Everything the command line decided, validated. */
public record Config(
        boolean allowTls12,
        String ciphers,
        String certDir,
        int debugLevel,
        boolean checkHost,
        String caFile,
        boolean mutualVerify,
        int maxThreads,
        String domain,
        String caPath,
        String crlFile,
        boolean certUser,
        boolean verbose,
        int wildcardFlags,
        /** Null with --no-pidfile. */
        Path pidFile,
        InetSocketAddress rpcAddress,
        int maxConnections,
        int connectQueue,
        Duration rpcIdleTimeout,
        boolean rpcbind,
        int portmapPort,
        Duration handshakeTimeout,
        boolean requireAlpn,
        boolean throwawayCert,
        java.util.List<InetSocketAddress> listen,
        InetSocketAddress backend,
        Require require,
        Duration idleTimeout,
        Duration upcallTimeout,
        Duration writeTimeout,
        long memoryBudget,
        Path rpcSocket,
        boolean rpcInsecure,
        int ioThreads,
        InetSocketAddress metrics,
        boolean checkOnly,
        String groups,
        java.util.List<String> allowSubjects,
        java.util.List<String> allowSans,
        boolean requireEku,
        java.util.List<org.rpctlsservd.proxy.Cidr> acceptProxyFrom,
        int backendProxy,
        String keyUri,
        Path keyPassphraseFile,
        int maxClients,
        Duration firstCallTimeout,
        java.util.List<Relay> relays,
        SourcePortRange backendSourcePorts,
        java.util.List<java.net.InetAddress> backendSources,
        java.util.logging.Level logLevel,
        int syslogFacility) {

    public Config {
        relays = java.util.List.copyOf(relays);
        backendSources = java.util.List.copyOf(backendSources);
        listen = java.util.List.copyOf(listen);
        allowSubjects = java.util.List.copyOf(allowSubjects);
        allowSans = java.util.List.copyOf(allowSans);
        acceptProxyFrom = java.util.List.copyOf(acceptProxyFrom);
    }

    /** --syslog-facility's default: daemon, as the C daemon's openlog(LOG_DAEMON). */
    public static final int DEFAULT_SYSLOG_FACILITY = 3;

    /** X509_CHECK_FLAG_NO_WILDCARDS: the default host-check mode. */
    public static final int NO_WILDCARDS = 0x2;
    /** X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS, set by -W. */
    public static final int MULTI_LABEL_WILDCARDS = 0x8;
    public static final String DEFAULT_CERTDIR = "/etc/rpc.tlsservd/";
    public static final Path DEFAULT_PIDFILE = Path.of("/var/run/rpc.tlsservd.pid");
    /** Where FreeBSD 13 and 14's rpc.tlsservd listened for the kernel's upcalls. */
    public static final Path DEFAULT_RPC_SOCKET = Path.of("/var/run/rpctlssd.sock");
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(30);
    /** --max-clients: front-end client connections at once. */
    public static final int DEFAULT_MAX_CLIENTS = 10_000;
    /** --first-call-timeout: how long a new client may hold a slot before it has earned it. */
    public static final Duration DEFAULT_FIRST_CALL_TIMEOUT = Duration.ofSeconds(10);

    /**
     * The option each field comes from, for naming what a reload would change ({@code rpcbind}:
     * --no-rpcbind; {@code portmapPort} is no option and never differs).
     */
    static final java.util.Map<String, String> OPTION_OF = java.util.Map.ofEntries(
            java.util.Map.entry("allowTls12", "allowtls1_2"), java.util.Map.entry("ciphers", "ciphers"),
            java.util.Map.entry("certDir", "certdir"), java.util.Map.entry("debugLevel", "debuglevel"),
            java.util.Map.entry("checkHost", "checkhost"), java.util.Map.entry("caFile", "verifylocs"),
            java.util.Map.entry("mutualVerify", "mutualverf"), java.util.Map.entry("maxThreads", "maxthreads"),
            java.util.Map.entry("domain", "domain"), java.util.Map.entry("caPath", "verifydir"),
            java.util.Map.entry("crlFile", "crl"), java.util.Map.entry("certUser", "certuser"),
            java.util.Map.entry("verbose", "verbose"), java.util.Map.entry("wildcardFlags", "singlewild/multiwild"),
            java.util.Map.entry("pidFile", "pidfile"), java.util.Map.entry("rpcAddress", "rpc-address"),
            java.util.Map.entry("maxConnections", "rpc-max-connections"), java.util.Map.entry("connectQueue", "connect-queue"),
            java.util.Map.entry("rpcIdleTimeout", "rpc-idle-timeout"), java.util.Map.entry("rpcbind", "no-rpcbind"),
            java.util.Map.entry("portmapPort", "portmap port"), java.util.Map.entry("handshakeTimeout", "handshake-timeout"),
            java.util.Map.entry("requireAlpn", "require-alpn"), java.util.Map.entry("throwawayCert", "throwaway-cert"),
            java.util.Map.entry("listen", "listen"), java.util.Map.entry("backend", "backend"),
            java.util.Map.entry("require", "require"), java.util.Map.entry("idleTimeout", "idle-timeout"),
            java.util.Map.entry("upcallTimeout", "upcall-timeout"), java.util.Map.entry("writeTimeout", "write-timeout"),
            java.util.Map.entry("memoryBudget", "memory-budget"), java.util.Map.entry("rpcSocket", "rpc-socket"),
            java.util.Map.entry("rpcInsecure", "rpc-insecure"), java.util.Map.entry("ioThreads", "io-threads"),
            java.util.Map.entry("metrics", "metrics"), java.util.Map.entry("checkOnly", "check"),
            java.util.Map.entry("groups", "groups"), java.util.Map.entry("allowSubjects", "allow-subject"),
            java.util.Map.entry("allowSans", "allow-san"), java.util.Map.entry("requireEku", "require-eku"),
            java.util.Map.entry("acceptProxyFrom", "accept-proxy-from"), java.util.Map.entry("backendProxy", "backend-proxy"),
            java.util.Map.entry("keyUri", "key-uri"), java.util.Map.entry("keyPassphraseFile", "key-passphrase-file"),
            java.util.Map.entry("maxClients", "max-clients"), java.util.Map.entry("firstCallTimeout", "first-call-timeout"),
            java.util.Map.entry("relays", "relay"), java.util.Map.entry("backendSourcePorts", "backend-source-ports"),
            java.util.Map.entry("backendSources", "backend-source"), java.util.Map.entry("logLevel", "log-level/verbose"),
            java.util.Map.entry("syslogFacility", "syslog-facility"));

    /** What a reload (SIGHUP) applies: the allow-lists. Every other option takes effect at a restart. */
    public static final java.util.Set<String> RELOADABLE = java.util.Set.of("allow-subject", "allow-san", "require-eku");

    /**
     * The options, by long name, whose values differ between this configuration and {@code next},
     * but those a reload applies: empty when a reload can go from one to the other.
     */
    public java.util.List<String> restartOnlyChanges(Config next) {
        java.util.List<String> changed = new java.util.ArrayList<>();
        for (java.lang.reflect.RecordComponent c : Config.class.getRecordComponents()) {
            String option = OPTION_OF.get(c.getName());
            if (RELOADABLE.contains(option)) {
                continue;
            }
            try {
                if (!java.util.Objects.equals(c.getAccessor().invoke(this), c.getAccessor().invoke(next))) {
                    changed.add(option);
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return changed;
    }

    /**
     * The kinds of restriction in force here that {@code next} drops altogether: the subject and
     * name lists (every --allow-subject and --allow-san gone), --require-eku. A reload refuses
     * these: a file cut short looks just like them, and they let more certificates in.
     */
    public java.util.List<String> droppedRestrictions(Config next) {
        java.util.List<String> dropped = new java.util.ArrayList<>();
        if ((!allowSubjects.isEmpty() || !allowSans.isEmpty()) && next.allowSubjects.isEmpty() && next.allowSans.isEmpty()) {
            dropped.add("allow-subject/allow-san list");
        }
        if (requireEku && !next.requireEku) {
            dropped.add("require-eku");
        }
        return dropped;
    }

    /** Every relay of the front end: each --listen to --backend, then each --relay. */
    public java.util.List<Relay> allRelays() {
        java.util.List<Relay> all = new java.util.ArrayList<>();
        for (InetSocketAddress l : listen) {
            all.add(new Relay(l, backend, java.util.List.of()));
        }
        all.addAll(relays);
        return all;
    }

    /** With -d the daemon stays in the foreground and logs to stderr. */
    public boolean foreground() {
        return debugLevel > 0;
    }
}
