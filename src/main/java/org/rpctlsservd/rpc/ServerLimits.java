package org.rpctlsservd.rpc;

import java.time.Duration;

/** The bounds every RPC listener enforces. */
public record ServerLimits(int maxConnections, int maxRecordBytes, Duration idleTimeout, Duration writeTimeout) {
    /** RPCTLSSD calls are a few hundred bytes; 64 KiB leaves room for any sane client. */
    public static final ServerLimits DEFAULT = new ServerLimits(64, 64 * 1024, Duration.ofMinutes(10), Duration.ofSeconds(30));

    public ServerLimits {
        if (maxConnections < 1 || maxRecordBytes < 64 || idleTimeout.isNegative() || idleTimeout.isZero()
                || writeTimeout.isNegative() || writeTimeout.isZero()) {
            throw new IllegalArgumentException("bad server limits");
        }
    }
}
