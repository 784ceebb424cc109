package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rpctlsservd.guard.LogText;

/**
 * The local (address, port) pairs backend connections come from, under --backend-source-ports
 * and --backend-source: reserved ports by default, as the kernel's NFS client binds them, because
 * NFS servers' {@code secure} exports (ganesha's {@code PrivilegedPort}) refuse any other.
 *
 * <p>A TCP connection is unique by its four addresses, so a port can serve one connection per
 * backend at a time: the range holds {@code high - low + 1} connections to one backend from each
 * source address. Ports are handed out in turn (a port is reused as late as possible, after its
 * TIME_WAIT has had time to pass) and bound with SO_REUSEADDR, as the kernel's client does, so a
 * port in TIME_WAIT toward another backend does not count as taken. A port someone else holds
 * (a listener, another program's connection) fails at bind or connect and the next one is tried;
 * when every one is in use the connection is refused ({@link #take} returns null), never made from
 * an unprivileged port. Shared by every loop: its methods are synchronized, and cheap.
 */
final class SourcePorts {
    /**
     * --backend-source-ports as this process can have it: the reserved default falls back to any
     * port, with a warning, when the daemon may not bind them; a range the administrator gave is
     * refused instead (exports that want reserved ports would refuse every client).
     */
    static SourcePortRange usable(FrontEndSettings config) throws java.io.IOException {
        SourcePortRange range = config.sourcePorts();
        if (range.any()) {
            return range;
        }
        String why = mayBind(range, config.sources().isEmpty() ? null : config.sources().get(0));
        if (why == null) {
            return range;
        }
        // the connector's words: its option is --server-source-ports, its other side the server
        String option = config.connecting() ? "--server-source-ports" : "--backend-source-ports";
        String side = config.connecting() ? "server" : "backend";
        if (range.given()) {
            throw new java.io.IOException(config.who() + ": " + option + " " + range + ": the daemon may not bind these ports (" + why
                    + "): run it as root or with CAP_NET_BIND_SERVICE, or say " + option + " any");
        }
        java.util.logging.Logger.getLogger("rpctlssd").warning(config.who() + ": " + side + " connections come from unprivileged ports: the daemon may not bind ports " + range + " ("
                + why + "); NFS exports with `secure' (knfsd's default) or PrivilegedPort = true refuse them; run the daemon as "
                + "root or with CAP_NET_BIND_SERVICE, or say " + option + " any");
        return SourcePortRange.ANY;
    }

    private final int low;
    private final int high;
    /** --backend-source addresses; empty: the kernel chooses the address (the wildcard is bound). */
    private final List<InetAddress> sources;
    /** Per backend, per source: the ports in use, and where the next search starts. */
    private final Map<InetSocketAddress, Ring[]> rings = new HashMap<>();

    private static final class Ring {
        final BitSet used = new BitSet();
        int next;
        int inUse;
    }

    /** A (source, port) handed out for one backend connection; given back with {@link #release}. */
    record Lease(InetSocketAddress backend, int sourceIndex, InetSocketAddress local) {
    }

    SourcePorts(SourcePortRange range, List<InetAddress> sources) {
        this.low = range.low();
        this.high = range.high();
        this.sources = List.copyOf(sources);
    }

    /** False when backend connections come from any port (the kernel's choice) and nothing is bound. */
    boolean binds() {
        return low != 0;
    }

    /** How many connections to one backend the range allows at once (over every source address). */
    int capacity(InetSocketAddress backend) {
        return (high - low + 1) * Math.max(1, sourcesFor(backend).size());
    }

    String describe() {
        return low + "-" + high + (sources.isEmpty() ? "" : " on " + sources.size() + " source addresses");
    }

    /** The source addresses of the backend's family (all of them when the kernel chooses). */
    private List<InetAddress> sourcesFor(InetSocketAddress backend) {
        if (sources.isEmpty()) {
            return sources;
        }
        boolean v6 = backend.getAddress() instanceof Inet6Address;
        List<InetAddress> out = new ArrayList<>();
        for (InetAddress a : sources) {
            if (a instanceof Inet6Address == v6) {
                out.add(a);
            }
        }
        return out;
    }

    /** Null when --backend-source names no address of the backend's family. */
    String noSourceFor(InetSocketAddress backend) {
        if (!sources.isEmpty() && sourcesFor(backend).isEmpty()) {
            return "--backend-source names no " + (backend.getAddress() instanceof Inet6Address ? "IPv6" : "IPv4")
                    + " address for the backend " + LogText.address(backend);
        }
        return null;
    }

    /**
     * A free (source, port) toward {@code backend}, marked in use; null when every one is in use
     * (by this daemon's connections, or tried and found taken by this attempt).
     */
    synchronized Lease take(InetSocketAddress backend) {
        List<InetAddress> from = sourcesFor(backend);
        int n = Math.max(1, from.size());
        Ring[] r = rings.computeIfAbsent(backend, b -> {
            Ring[] fresh = new Ring[n];
            for (int i = 0; i < n; i++) {
                fresh[i] = new Ring();
            }
            return fresh;
        });
        int size = high - low + 1;
        for (int s = 0; s < n; s++) { // the first address until it is full: export rules see as few addresses as can be
            Ring ring = r[s];
            if (ring.inUse >= size) {
                continue;
            }
            int i = ring.used.nextClearBit(ring.next);
            if (i >= size) {
                i = ring.used.nextClearBit(0);
            }
            ring.used.set(i);
            ring.inUse++;
            ring.next = i + 1 == size ? 0 : i + 1;
            InetAddress a = from.isEmpty() ? null : from.get(s);
            int port = high - i; // from the top down, as bindresvport and the kernel's client go
            return new Lease(backend, s, a == null ? new InetSocketAddress(port) : new InetSocketAddress(a, port));
        }
        return null;
    }

    synchronized void release(Lease l) {
        Ring[] r = rings.get(l.backend());
        Ring ring = r[l.sourceIndex()];
        int i = high - l.local().getPort();
        if (ring.used.get(i)) {
            ring.used.clear(i);
            ring.inUse--;
        }
        // the rings stay (one per relay's backend, a fixed set): their cursors keep ports turning over
    }

    /** Ports in use toward {@code backend}, over every source address (for tests and the log). */
    synchronized int inUse(InetSocketAddress backend) {
        Ring[] r = rings.get(backend);
        int n = 0;
        if (r != null) {
            for (Ring ring : r) {
                n += ring.inUse;
            }
        }
        return n;
    }

    /** Binds {@code ch} to the lease's address and port, reusable as the kernel's NFS client's are. */
    static void bind(SocketChannel ch, Lease l) throws IOException {
        ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        ch.bind(l.local());
    }

    /**
     * True when {@code e}, from binding or connecting a leased port, means that port is taken
     * (another program's listener or connection, or our own in TIME_WAIT toward this backend):
     * the next port is tried. Java says EADDRINUSE and EADDRNOTAVAIL only in the message.
     */
    static boolean taken(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        return m.contains("Address already in use") || m.contains("Cannot assign requested address")
                || e instanceof BindException && !m.contains("Permission denied");
    }

    /**
     * Whether this process may bind ports of {@code range} (below 1024 that takes root or
     * CAP_NET_BIND_SERVICE, or a low net.ipv4.ip_unprivileged_port_start): tried, on a port of the
     * range that is free. Null when it may; else why not.
     */
    static String mayBind(SourcePortRange range, InetAddress source) {
        IOException last = null;
        for (int port = range.high(); port >= range.low() && port > range.high() - 64; port--) {
            try (SocketChannel ch = SocketChannel.open()) {
                ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ch.bind(source == null ? new InetSocketAddress(port) : new InetSocketAddress(source, port));
                return null;
            } catch (IOException e) {
                last = e;
                String m = e.getMessage();
                if (m != null && m.contains("Permission denied")) {
                    return "permission denied binding port " + port;
                }
            }
        }
        return last == null ? "no port to try" : last.getMessage();
    }
}
