package org.rpctlsservd.rpcbind;

import java.io.Closeable;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.OncRpcProtocols;
import org.acplt.oncrpc.OncRpcServerIdent;

/**
 * The RPC programs a --relay names, registered with rpcbind at the relay's TLS port, so that a
 * client asking rpcbind (an NFSv3 client looking for MOUNT, say) is sent to the front end. Only
 * entries nobody holds are taken: an entry for another port (most often the backend's own
 * registration) is left alone and said so, because replacing it would cut off the backend's plain
 * clients and a restarted backend would take it back anyway. At exit, only entries still pointing
 * at our port are removed, one netid at a time (the backend's UDP entry, say, stays).
 */
public final class RelayRegistrations implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    private static final int TIMEOUT_MILLIS = 1000;

    /** One program version at one port under one netid. */
    record Entry(int program, int version, String netid, int port, java.net.InetAddress address) {
        String describe() {
            return Integer.toUnsignedString(program) + " version " + version + " (" + netid + ")";
        }
    }

    private final Registration.Kind kind;
    private final int pmapPort;
    private final EmbeddedPortmapper embedded;
    private final List<Entry> ours = new ArrayList<>();

    private RelayRegistrations(Registration.Kind kind, int pmapPort, EmbeddedPortmapper embedded) {
        this.kind = kind;
        this.pmapPort = pmapPort;
        this.embedded = embedded;
    }

    /** A program version to register at a listener's port. */
    public record Wanted(int program, String name, int version, InetSocketAddress listen) {
    }

    /**
     * Registers each of {@code wanted} where {@code where} registered the daemon (the system's
     * rpcbind, or the embedded portmapper); none when the daemon is not registered (--no-rpcbind).
     */
    public static RelayRegistrations register(Registration where, List<Wanted> wanted, int pmapPort) {
        Registration.Kind kind = where == null ? Registration.Kind.NONE : where.kind();
        RelayRegistrations r = new RelayRegistrations(kind, pmapPort, where == null ? null : where.embedded());
        if (kind == Registration.Kind.NONE) {
            if (!wanted.isEmpty()) {
                LOG.info("front end: the programs the relays name are not registered (no rpcbind); clients must be told the ports");
            }
            return r;
        }
        for (Wanted w : wanted) {
            // portmap v2 (the embedded portmapper) knows no tcp6: an IPv6 listener is found by its IPv4 twin or not at all
            for (String netid : kind == Registration.Kind.EMBEDDED ? List.of("tcp") : netids(w.listen())) {
                r.take(new Entry(w.program(), w.version(), netid, w.listen().getPort(), w.listen().getAddress()), w.name());
            }
        }
        return r;
    }

    /** The netids a listener serves: tcp for IPv4, tcp6 for IPv6, both for the IPv6 wildcard (it takes IPv4 too). */
    static List<String> netids(InetSocketAddress listen) {
        if (!(listen.getAddress() instanceof Inet6Address)) {
            return List.of("tcp");
        }
        return listen.getAddress().isAnyLocalAddress() ? List.of("tcp", "tcp6") : List.of("tcp6");
    }

    /** The entries this daemon registered (and will remove). */
    public List<String> registered() {
        List<String> out = new ArrayList<>();
        for (Entry e : ours) {
            out.add(e.describe() + " port " + e.port());
        }
        return out;
    }

    private void take(Entry e, String name) {
        String what = (name != null ? name + " (" + Integer.toUnsignedString(e.program()) + ")" : "program "
                + Integer.toUnsignedString(e.program())) + " version " + e.version() + " " + e.netid();
        try {
            int held = portHeld(e);
            if (held != 0) {
                // Whoever holds it, it is not ours to take over or to remove at exit: even at our own port
                // number it may be the backend's (a backend on 127.0.0.1 and the front end on the host's address).
                LOG.warning("front end: rpcbind has " + what + " at port " + held + " already (the backend's own registration, or "
                        + "another program's): left alone" + (held == e.port() ? "" : ", so clients asking rpcbind are not sent to the"
                        + " TLS port " + e.port() + "; give them the port (mount -o port=, mountport=) or stop the backend"
                        + " registering it"));
                return;
            }
            if (!set(e)) {
                LOG.warning("front end: rpcbind refused to register " + what + " at port " + e.port());
                return;
            }
            ours.add(e);
            LOG.info("front end: registered " + what + " at the TLS port " + e.port() + " with rpcbind");
        } catch (IOException | OncRpcException ex) {
            LOG.warning("front end: could not register " + what + " at port " + e.port() + " with rpcbind: " + ex.getMessage());
        }
    }

    /** The port registered now for the entry's program, version and netid; 0 when none. */
    private int portHeld(Entry e) throws IOException, OncRpcException {
        if (kind == Registration.Kind.EMBEDDED) {
            return e.netid().equals("tcp") ? embedded.getPort(e.program(), e.version(), OncRpcProtocols.ONCRPC_TCP) : 0;
        }
        return port(RpcbindLocal.getAddr(pmapPort, e.program(), e.version(), e.netid(), TIMEOUT_MILLIS));
    }

    private boolean set(Entry e) throws IOException, OncRpcException {
        if (kind == Registration.Kind.EMBEDDED) {
            return embedded.set(new OncRpcServerIdent(e.program(), e.version(), OncRpcProtocols.ONCRPC_TCP, e.port()));
        }
        // the listener's own address, so rpcbind never sends a client to an address of this host nobody listens on;
        // the wildcard as rpcbind writes it (it answers with the address the client asked on)
        String host = e.address().isAnyLocalAddress() ? (e.netid().equals("tcp6") ? "::" : "0.0.0.0")
                : e.address().getHostAddress().replaceFirst("%.*", ""); // no scope: rpcbind's parser takes none
        return RpcbindLocal.set(pmapPort, e.program(), e.version(), e.netid(), host + "." + (e.port() >> 8) + "." + (e.port() & 0xff),
                TIMEOUT_MILLIS);
    }

    /** The port of a universal address (RFC 5665: the address, then the port's two bytes as ".hi.lo"); 0 for none. */
    static int port(String uaddr) {
        if (uaddr == null || uaddr.isEmpty()) {
            return 0;
        }
        int lo = uaddr.lastIndexOf('.');
        int hi = lo <= 0 ? -1 : uaddr.lastIndexOf('.', lo - 1);
        if (hi < 0) {
            return 0;
        }
        try {
            return Integer.parseInt(uaddr.substring(hi + 1, lo)) * 256 + Integer.parseInt(uaddr.substring(lo + 1));
        } catch (NumberFormatException ex) {
            return 0;
        }
    }

    /** Removes what this daemon registered and still points at its port. */
    @Override
    public void close() {
        for (Entry e : ours) {
            try {
                if (portHeld(e) != e.port()) {
                    continue; // someone registered it since: theirs now
                }
                if (kind == Registration.Kind.EMBEDDED) {
                    embedded.unset(e.program(), e.version());
                } else {
                    RpcbindLocal.unset(pmapPort, e.program(), e.version(), e.netid(), TIMEOUT_MILLIS);
                }
            } catch (IOException | OncRpcException ex) {
                LOG.warning("front end: could not remove " + e.describe() + " from rpcbind: " + ex.getMessage());
            }
        }
        ours.clear();
    }
}
