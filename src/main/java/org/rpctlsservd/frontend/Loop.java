package org.rpctlsservd.frontend;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.io.IoLoop;

/**
 * One event loop of the front end, the connections it serves for their whole life, and the
 * shared services as its connections see them ({@link ConnectionServices}).
 */
final class Loop implements ConnectionServices {
    final IoLoop io;
    private final Shared shared;
    private final Upcalls upcalls;
    /** The connections this loop serves (each also in the front end's set of all). */
    final Set<Member> members = ConcurrentHashMap.newKeySet();
    /**
     * Large reads: fewer system calls, and fewer TLS records cut by a read's end (a cut record's
     * bytes are copied into its session's buffer and completed there).
     */
    static final int READ_BUFFER = 256 * 1024;
    private final ByteBuffer readBuffer = ByteBuffer.allocate(READ_BUFFER);
    /**
     * The direct read buffer and the seal room: direct once TLS 1.3 records can be sealed
     * and opened in direct buffers (records.NativeGcm, loaded after READY). The plain side's reads
     * (the backend's) and an established session's TLS records then go into a direct buffer, the
     * records are opened there in place and sealed from it into a direct room, and the kernel
     * takes them from there: NIO copies nothing, and no relayed byte is copied in user space. Until
     * then, and where it does not load, both are the heap ones, as the JCE providers work on arrays.
     * What comes before TLS (the probe, a PROXY header) is read into {@link #readBuffer} always.
     */
    private boolean direct;
    private ByteBuffer directReadBuffer;
    /** The records sealed from one read of plain bytes fit, with their headers and tags. */
    private ByteBuffer sealRoom = ByteBuffer.allocate(SEAL_ROOM);
    private static final int SEAL_ROOM = READ_BUFFER + READ_BUFFER / 16;
    /** Queues holding views of the read buffer or the seal room, to settle before those are reused. */
    private final java.util.ArrayList<Outbound> borrowers = new java.util.ArrayList<>();
    /** This loop's connections that another loop marked to be closed (for the memory budget, or to make room). */
    private final ConcurrentLinkedQueue<Member> marked = new ConcurrentLinkedQueue<>();

    /** {@code upcalls}: usually on this loop, so an upcall and its answer need no hand-off between threads. */
    Loop(IoLoop io, Upcalls upcalls, Shared shared) {
        this.io = io;
        this.upcalls = upcalls;
        this.shared = shared;
    }

    /** On this loop: closes the connections marked by other loops, but {@code running} (whose callback is on the stack). */
    void closeMarked(Member running) {
        Member c;
        boolean skipped = false;
        while ((c = marked.poll()) != null) {
            if (c == running) {
                skipped = true;
            } else {
                c.teardown(c.markedReason());
            }
        }
        if (skipped) {
            running.closeSoon(running.markedReason());
        }
    }

    @Override
    public void markForClose(Member c) {
        marked.add(c);
        io.submit(() -> closeMarked(null));
    }

    @Override
    public ConnectionSettings settings() {
        return shared.settings();
    }

    @Override
    public IoLoop io() {
        return io;
    }

    @Override
    public ByteBuffer readBuffer() {
        settle();
        readBuffer.clear();
        return readBuffer;
    }

    @Override
    public ByteBuffer directReadBuffer() {
        settle();
        ByteBuffer b = direct ? directReadBuffer : readBuffer;
        b.clear();
        return b;
    }

    /** Before a read: what is lent of the loop's buffers is settled, and they go direct once the native AEADs are ready. */
    private void settle() {
        settleLent();
        if (!direct && EstablishedSession.sealsDirect()) {
            direct = true;
            directReadBuffer = ByteBuffer.allocateDirect(READ_BUFFER);
            sealRoom = ByteBuffer.allocateDirect(SEAL_ROOM);
        }
        sealRoom.clear();
    }

    @Override
    public ByteBuffer sealRoom(int bytes) {
        if (sealRoom.remaining() < bytes) {
            settleLent();
            sealRoom.clear();
            if (bytes > sealRoom.capacity()) {
                return ByteBuffer.allocate(bytes); // more than a read makes: a buffer of its own
            }
        }
        return sealRoom;
    }

    @Override
    public void lent(Outbound o) {
        if (borrowers.size() >= 1024) {
            settleLent(); // each flush settles its own, so this list only grows between reads; o lends after this
        }
        borrowers.add(o);
    }

    /** Copies what the queues still hold of the loop's buffers (usually nothing: every flush settles). */
    private void settleLent() {
        for (Outbound o : borrowers) {
            o.settle();
        }
        borrowers.clear();
    }

    @Override
    public ScheduledFuture<?> later(long delay, TimeUnit unit, Runnable task) {
        return io.later(shared.timer(), delay, unit, task);
    }

    @Override
    public boolean trustsProxy(InetAddress ip) {
        return shared.trustsProxy(ip);
    }

    @Override
    public void accounted(Member c, long grew) {
        shared.budget().add(grew);
        if (grew > 0) {
            if (!marked.isEmpty()) {
                closeMarked(c); // what other loops marked here goes before anyone here grows again
            }
            if (shared.budget().paused()) {
                shared.shedding().shedIfOver(c);
            }
        }
    }

    @Override
    public FrontEndStats stats() {
        return shared.stats();
    }

    @Override
    public RateLimitedLog warnings() {
        return shared.warnings();
    }

    @Override
    public Refusals refusals() {
        return shared.refusals();
    }

    @Override
    public long park(SocketChannel client, InetSocketAddress peer) {
        return shared.handoff().park(client, peer);
    }

    @Override
    public long parkForServer(SocketChannel server, String serverName) {
        return shared.handoff().parkForServer(server, serverName);
    }

    @Override
    public boolean withdraw(long cookie, SocketChannel client) {
        return shared.handoff().withdraw(cookie, client);
    }

    @Override
    public Upcalls upcalls() {
        return upcalls;
    }

    @Override
    public EstablishedSession established(long cookie) {
        return shared.sessions().get(cookie);
    }

    @Override
    public ConnectPermits permits() {
        return shared.permits();
    }

    @Override
    public SourcePorts sourcePorts() {
        return shared.sourcePorts();
    }

    @Override
    public boolean makePortRoom(Member newcomer, InetSocketAddress backend, Consumer<SourcePorts.Lease> heir) {
        return shared.portRoom().makeRoom(newcomer, backend, heir);
    }

    @Override
    public BackendHealth backendHealth() {
        return shared.backendHealth();
    }

    @Override
    public void forget(Member c, Runnable waitingForPermit) {
        if (!shared.connections().remove(c)) {
            return;
        }
        members.remove(c);
        Member.Doom d = c.gone(); // a scan that marks it later fails: what it adds is taken back here or never
        shared.admission().forgotten(d);
        shared.shedding().forgotten(d);
        if (waitingForPermit != null) {
            shared.permits().stopWaiting(waitingForPermit);
        }
    }
}
