package org.rpctlsservd.frontend;

import java.time.Duration;
import java.util.List;
import org.rpctlsservd.proxy.Cidr;

/** What the front end is told, and nothing more of the command line. */
public record FrontEndSettings(
        List<Relay> relays,
        Require require,
        Duration idleTimeout,
        Duration upcallTimeout,
        Duration writeTimeout,
        int ioThreads,
        List<Cidr> acceptProxyFrom,
        int backendProxy,
        Duration proxyHeaderTimeout,
        int maxClients,
        Duration firstCallTimeout,
        SourcePortRange sourcePorts,
        List<java.net.InetAddress> sources) {

    public FrontEndSettings {
        relays = List.copyOf(relays);
        sources = List.copyOf(sources);
        acceptProxyFrom = List.copyOf(acceptProxyFrom);
        if (ioThreads < 1) {
            throw new IllegalArgumentException("ioThreads must be at least 1");
        }
        if (maxClients < 1) {
            throw new IllegalArgumentException("maxClients must be at least 1");
        }
    }
}
