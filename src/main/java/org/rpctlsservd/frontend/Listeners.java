package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import org.rpctlsservd.io.Acceptor;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.guard.MemoryBudget;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.io.Channels;

/**
 * The --listen sockets (the connector's: --connect's): each accepted on by one of the loops (in
 * turn), its clients dealt out to the loops in turn and admitted under --max-clients
 * ({@link Admission}), each a {@link ClientConnection} or a {@link ConnectorConnection}. While the memory budget
 * is exhausted, clients wait in the listen queue; out of descriptors, the waiting ones are refused
 * and accepting pauses.
 */
final class Listeners implements Closeable {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** Connections one wake-up of a listener accepts at most, so that its loop serves its connections too. */
    private static final int ACCEPT_BATCH = 64;

    private final List<Loop> loops;
    private final AtomicInteger nextLoop = new AtomicInteger();
    private final Admission admission;
    private final Set<Member> connections;
    private final MemoryBudget budget;
    private final ScheduledExecutorService timer;
    private final RateLimitedLog warnings;
    private final List<ServerSocketChannel> channels = new ArrayList<>();
    private final List<Listener> accepting = new ArrayList<>();
    private volatile boolean closed;
    /** "front end" or "connector", for the log; set by {@link #bind}. */
    private String who = "front end";
    /** The connector's server look-ups; null for the front end. */
    private ServerNames names;

    /** A listening socket, the backend its clients are relayed to (or the server the connector takes them to), and the loop that accepts on it. */
    private static final class Listener {
        final ServerSocketChannel channel;
        final Acceptor acceptor;
        final Loop loop;
        final InetSocketAddress backend;
        final Connect connect;
        /** True while accepting waits for the memory budget to drain: set on the loop, cleared by whoever sees it drain. */
        volatile boolean waitingForBudget;

        Listener(ServerSocketChannel channel, Acceptor acceptor, Loop loop, InetSocketAddress backend, Connect connect) {
            this.channel = channel;
            this.acceptor = acceptor;
            this.loop = loop;
            this.backend = backend;
            this.connect = connect;
        }
    }

    Listeners(List<Loop> loops, Admission admission, Set<Member> connections, MemoryBudget budget, ScheduledExecutorService timer,
            RateLimitedLog warnings) {
        this.loops = loops;
        this.admission = admission;
        this.connections = connections;
        this.budget = budget;
        this.timer = timer;
        this.warnings = warnings;
    }

    /** Opens and binds a listening socket for each address, in order ({@code who}: "front end", "connector"); the caller closes this on failure. */
    void bind(List<InetSocketAddress> listens, String who) throws IOException {
        this.who = who;
        for (InetSocketAddress a : listens) {
            try {
                ServerSocketChannel ss = ServerSocketChannel.open();
                channels.add(ss);
                ss.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ss.bind(a, 1024);
            } catch (IOException e) {
                throw new IOException(who + ": cannot listen on " + LogText.address(a) + ": " + LogText.why(e), e);
            }
        }
    }

    /** Starts accepting on each socket {@link #bind} opened, saying so ({@code describe}: what the line tells of a backend). */
    void start(List<Relay> relays, java.util.function.Function<InetSocketAddress, String> describe) throws IOException {
        for (int i = 0; i < channels.size(); i++) {
            Listener l = listener(i, "front end", relays.get(i).backend(), null);
            LOG.info("front end: RPC-over-TLS on " + LogText.address(l.channel.getLocalAddress()) + ", relaying to "
                    + LogText.address(l.backend) + describe.apply(l.backend));
        }
    }

    /** The connector's: starts accepting plain clients for each --connect, saying so. */
    void startConnectors(List<Connect> connects, ServerNames names, String describe) throws IOException {
        this.names = names;
        for (int i = 0; i < channels.size(); i++) {
            Connect c = connects.get(i);
            Listener l = listener(i, "connector", null, c);
            LOG.info("connector: plain RPC on " + LogText.address(l.channel.getLocalAddress()) + ", over TLS to " + c.server()
                    + (c.certName().isEmpty() ? "" : " (certname " + c.certName() + ")") + describe);
        }
    }

    private Listener listener(int i, String who, InetSocketAddress backend, Connect connect) throws IOException {
        ServerSocketChannel ss = channels.get(i);
        Listener l;
        try {
            l = new Listener(ss, new Acceptor(ss, who + " " + LogText.address(ss.getLocalAddress())), loops.get(i % loops.size()), backend,
                    connect);
        } catch (IOException e) {
            throw new IOException(who + ": cannot listen: " + e.getMessage(), e);
        }
        accepting.add(l);
        l.loop.io.onAcceptable(ss, () -> acceptable(l));
        return l;
    }

    /** The bound listening addresses (the real ports when 0 was asked for). */
    List<InetSocketAddress> addresses() throws IOException {
        List<InetSocketAddress> out = new ArrayList<>();
        for (ServerSocketChannel ss : channels) {
            out.add((InetSocketAddress) ss.getLocalAddress());
        }
        return out;
    }

    /** On the listener's loop: accepts what waits and deals it out to the loops in turn. */
    private void acceptable(Listener l) {
        for (int i = 0; i < ACCEPT_BATCH && !closed; i++) {
            if (budget.paused()) {
                l.waitingForBudget = true;
                if (!budget.paused()) {
                    resumeAccepting(l); // it drained while the flag was being set
                }
                return;
            }
            SocketChannel c;
            try {
                c = l.acceptor.acceptNow();
            } catch (Acceptor.Shed e) {
                l.loop.io.later(timer, Acceptor.pauseMillis(), TimeUnit.MILLISECONDS, () -> armAccept(l));
                return;
            } catch (IOException e) {
                if (!closed && l.channel.isOpen()) {
                    warnings.warning("accept", () -> who + ": accept failed: " + LogText.why(e, "the client"));
                }
                break;
            }
            if (c == null) {
                break;
            }
            admit(c, l.loop, l);
        }
        armAccept(l);
    }

    private void armAccept(Listener l) {
        if (!closed && l.channel.isOpen()) {
            l.loop.io.onAcceptable(l.channel, () -> acceptable(l));
        }
    }

    /** From any thread: the budget drained, accepting goes on where it paused for it. */
    void budgetDrained() {
        for (Listener l : accepting) {
            resumeAccepting(l);
        }
    }

    private void resumeAccepting(Listener l) {
        if (l.waitingForBudget) {
            l.waitingForBudget = false;
            l.loop.io.submit(() -> armAccept(l));
        }
    }

    /** On {@code here}, a loop: a newly accepted client goes to the next loop in turn (one dealt to this loop starts at once). */
    private void admit(SocketChannel c, Loop here, Listener l) {
        if (!admission.admit()) {
            Channels.closeQuietly(c);
            return;
        }
        try {
            InetSocketAddress peer = (InetSocketAddress) c.getRemoteAddress();
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c.configureBlocking(false);
            Loop loop = loops.get(Math.floorMod(nextLoop.getAndIncrement(), loops.size()));
            Member conn;
            Runnable start;
            if (l.connect != null) {
                ConnectorConnection cc = new ConnectorConnection(loop, c, peer, l.connect);
                conn = cc;
                // resolved at each connect; the connection starts on its loop once its server's address is known
                start = () -> names.resolve(l.connect, (a, why) -> loop.io.submit(() -> cc.start(a, why)));
            } else {
                ClientConnection fc = new ClientConnection(loop, c, peer, l.backend);
                conn = fc;
                start = fc::start;
            }
            loop.members.add(conn);
            connections.add(conn); // last: scans find it here, and one that closes it at once must find it in members

            if (loop == here) {
                start.run();
            } else {
                loop.io.submit(start);
            }
        } catch (IOException e) {
            admission.gaveBack(); // its slot, taken or handed over, goes back
            LOG.fine(() -> who + ": a client went before it was served: " + LogText.why(e, "the client"));
            Channels.closeQuietly(c);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (ServerSocketChannel ss : channels) {
            Channels.closeQuietly(ss); // its key goes with it; a callback already running sees it closed
        }
    }
}
