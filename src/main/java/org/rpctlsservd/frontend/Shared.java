package org.rpctlsservd.frontend;

import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.handshake.EstablishedSessions;
import org.rpctlsservd.proxy.Cidr;
import org.rpctlsservd.sessions.SocketHandoff;

/** What every loop shares, handed to each {@link Loop}, which shows its connections only what they need. */
record Shared(ConnectionSettings settings, ScheduledExecutorService timer, MemoryBudget budget, FrontEndStats stats,
        RateLimitedLog warnings, Refusals refusals, SocketHandoff handoff, EstablishedSessions sessions, List<Cidr> acceptProxyFrom,
        Set<Member> connections, Admission admission, Shedding shedding, ConnectPermits permits, SourcePorts sourcePorts,
        PortRoom portRoom, BackendHealth backendHealth) {

    /** True when connections from {@code ip} must begin with a PROXY header (and only theirs may). */
    boolean trustsProxy(InetAddress ip) {
        for (Cidr c : acceptProxyFrom) {
            if (c.contains(ip)) {
                return true;
            }
        }
        return false;
    }
}
