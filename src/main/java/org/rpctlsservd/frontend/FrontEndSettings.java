package org.rpctlsservd.frontend;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.rpctlsservd.proxy.Cidr;

/**
 * What the front end is told, and nothing more of the command line. With {@code connectors}, it is
 * the connector instead (rpc.tlsclntd's --connect): plain clients in, RFC 9289 servers out, and no
 * relays; {@link #connector} makes those settings.
 */
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
        List<InetAddress> sources,
        List<Connect> connectors,
        boolean allowPlain) {

    public FrontEndSettings {
        relays = List.copyOf(relays);
        sources = List.copyOf(sources);
        acceptProxyFrom = List.copyOf(acceptProxyFrom);
        connectors = List.copyOf(connectors);
        if (ioThreads < 1) {
            throw new IllegalArgumentException("ioThreads must be at least 1");
        }
        if (maxClients < 1) {
            throw new IllegalArgumentException("maxClients must be at least 1");
        }
        if (!relays.isEmpty() && !connectors.isEmpty()) {
            throw new IllegalArgumentException("a daemon relays (front end) or connects (connector), not both");
        }
    }

    /** The front end's settings (rpc.tlsservd): relays, no connectors. */
    public FrontEndSettings(List<Relay> relays, Require require, Duration idleTimeout, Duration upcallTimeout, Duration writeTimeout,
            int ioThreads, List<Cidr> acceptProxyFrom, int backendProxy, Duration proxyHeaderTimeout, int maxClients,
            Duration firstCallTimeout, SourcePortRange sourcePorts, List<InetAddress> sources) {
        this(relays, require, idleTimeout, upcallTimeout, writeTimeout, ioThreads, acceptProxyFrom, backendProxy, proxyHeaderTimeout,
                maxClients, firstCallTimeout, sourcePorts, sources, List.of(), false);
    }

    /**
     * The connector's settings (rpc.tlsclntd --connect): {@code allowPlain} relays in plain text to
     * a server that does not answer STARTTLS (otherwise its clients are refused); {@code sourcePorts}
     * and {@code sources} are --server-source-ports and --server-source.
     */
    public static FrontEndSettings connector(List<Connect> connects, boolean allowPlain, Duration idleTimeout, Duration upcallTimeout,
            Duration writeTimeout, int ioThreads, int maxClients, Duration firstCallTimeout, SourcePortRange sourcePorts,
            List<InetAddress> sources) {
        if (connects.isEmpty()) {
            throw new IllegalArgumentException("the connector needs at least one --connect");
        }
        // the client side is plain: no --require, no PROXY headers either way
        return new FrontEndSettings(List.of(), Require.NONE, idleTimeout, upcallTimeout, writeTimeout, ioThreads, List.of(), 0,
                Duration.ZERO, maxClients, firstCallTimeout, sourcePorts, sources, connects, allowPlain);
    }

    /** True in connector mode. */
    public boolean connecting() {
        return !connectors.isEmpty();
    }

    /** How the log names this side: "front end", or "connector" in connector mode. */
    public String who() {
        return connecting() ? "connector" : "front end";
    }
}
