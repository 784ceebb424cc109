package org.rpctlsservd.frontend;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.proxy.ProxyHeader;

/**
 * The PROXY intake stage, the connection's first: {@link ProxyIntake} judges the first bytes; this
 * keeps the trusted balancer's deadline, takes the client's address from the header, and refuses
 * what must be refused. Over once it has decided.
 */
final class ProxyStage {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final Connection c;
    private final CallFraming framing;
    /** Until it has decided (then null). */
    private ProxyIntake intake;
    private ScheduledFuture<?> deadline;

    ProxyStage(Connection c, CallFraming framing) {
        this.c = c;
        this.framing = framing;
        this.intake = new ProxyIntake(c.services.trustsProxy(c.peer.getAddress()));
    }

    /** A trusted balancer's header must come within the deadline (--proxy-header-timeout). */
    void start() {
        if (intake.expectsHeader()) {
            long nanos = c.services.settings().proxyHeaderNanos();
            deadline = c.services.later(nanos, TimeUnit.NANOSECONDS, () -> {
                if (intake != null) {
                    c.services.warnings().warning("proxy-slow", () -> "front end " + LogText.address(c.peer) + ": no PROXY header within "
                            + TimeUnit.NANOSECONDS.toMillis(nanos) + " ms: closed");
                    c.events.teardown("no PROXY header in time");
                }
            });
        }
    }

    /** True once it has decided. */
    boolean over() {
        return intake == null;
    }

    /**
     * True once it is over and {@code buf} holds the client's own bytes; false while more of a
     * header is to come (read is armed again) or when the connection was refused (it is torn down).
     */
    boolean pass(ByteBuffer buf) throws IOException {
        if (!intake.expectsHeader() && !buf.hasRemaining()) {
            return true; // nothing to judge yet
        }
        switch (intake.offer(buf)) {
            case MORE:
                c.events.armClientRead();
                return false;
            case BAD:
                String problem = intake.problem();
                c.services.warnings().warning("proxy-bad", () -> "front end " + LogText.address(c.peer) + ": bad PROXY header: " + problem
                        + ": closed");
                c.events.teardown("bad PROXY header: " + problem);
                return false;
            case NOT_BELIEVED:
                c.services.warnings().warning("proxy-untrusted", () -> "front end " + LogText.address(c.peer) + ": a PROXY header from an "
                        + "address --accept-proxy-from does not name: not believed, closed");
                c.events.teardown("PROXY header from an untrusted peer");
                return false;
            case PASS:
                intake = null;
                return true;
            default: // DONE: what follows is the client's, whatever it looks like
                ProxyHeader.Parsed h = intake.header();
                ByteBuffer rest = intake.rest();
                intake = null;
                deadline.cancel(false);
                if (h.source() != null) {
                    InetSocketAddress balancer = c.peer;
                    c.peer = h.source();
                    c.destination = h.destination();
                    LOG.fine(() -> "front end " + LogText.address(c.peer) + ": by PROXY header from " + LogText.address(balancer));
                }
                framing.feed(rest);
                return !c.closed();
        }
    }

    /** The connection closes: the deadline goes. */
    void close() {
        if (deadline != null) {
            deadline.cancel(false);
        }
    }
}
