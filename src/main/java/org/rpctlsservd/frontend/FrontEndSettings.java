package org.rpctlsservd.frontend;

import java.time.Duration;
import java.util.List;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.proxy.Cidr;

/** What the front end is told, and nothing more of the command line. */
public record FrontEndSettings(
        List<Config.Relay> relays,
        Config.Require require,
        Duration idleTimeout,
        Duration upcallTimeout,
        Duration writeTimeout,
        int ioThreads,
        List<Cidr> acceptProxyFrom,
        int backendProxy,
        Duration proxyHeaderTimeout,
        int maxClients,
        Duration firstCallTimeout,
        Config.SourcePorts sourcePorts,
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

    /** The front end's part of the command line. */
    public static FrontEndSettings from(Config c) {
        // A PROXY header must be in within the handshake deadline, as a ClientHello must.
        return new FrontEndSettings(c.allRelays(), c.require(), c.idleTimeout(), c.upcallTimeout(), c.writeTimeout(),
                c.ioThreads(), c.acceptProxyFrom(), c.backendProxy(), c.handshakeTimeout(), c.maxClients(), c.firstCallTimeout(),
                c.backendSourcePorts(), c.backendSources());
    }
}
