package org.rpctlsservd.cli;

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
        Duration firstCallTimeout) {

    /** --require: the least a connection must reach before calls other than NULL are relayed (exports(5) -tls, -tlscert, -tlscertuser). */
    public enum Require { NONE, TLS, CERT, CERTUSER }

    public Config {
        listen = java.util.List.copyOf(listen);
        allowSubjects = java.util.List.copyOf(allowSubjects);
        allowSans = java.util.List.copyOf(allowSans);
        acceptProxyFrom = java.util.List.copyOf(acceptProxyFrom);
    }

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

    /** With -d the daemon stays in the foreground and logs to stderr. */
    public boolean foreground() {
        return debugLevel > 0;
    }
}
