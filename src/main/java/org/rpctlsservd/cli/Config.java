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
        boolean throwawayCert) {

    /** X509_CHECK_FLAG_NO_WILDCARDS: the default host-check mode. */
    public static final int NO_WILDCARDS = 0x2;
    /** X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS, set by -W. */
    public static final int MULTI_LABEL_WILDCARDS = 0x8;
    public static final String DEFAULT_CERTDIR = "/etc/rpc.tlsservd/";
    public static final Path DEFAULT_PIDFILE = Path.of("/var/run/rpc.tlsservd.pid");

    /** With -d the daemon stays in the foreground and logs to stderr. */
    public boolean foreground() {
        return debugLevel > 0;
    }
}
