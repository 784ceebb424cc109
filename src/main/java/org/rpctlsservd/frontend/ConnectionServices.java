package org.rpctlsservd.frontend;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.rpctlsservd.guard.RateLimitedLog;
import org.rpctlsservd.handshake.EstablishedSession;
import org.rpctlsservd.io.IoLoop;

/**
 * The one way the front end's shared services reach a connection: one object per event loop,
 * bound to that loop, so a connection sees its loop's services and never the front end's fields.
 * Everything here is called on the connection's loop unless it says otherwise.
 */
interface ConnectionServices {
    /** What a connection is told of the settings. */
    ConnectionSettings settings();

    /** The loop every callback of the connection runs on. */
    IoLoop io();

    /**
     * The loop's read buffer, emptied; only its own thread uses it. Bytes lent from it (and from the
     * seal room) to the connections' queues are settled first.
     */
    ByteBuffer readBuffer();

    /**
     * As {@link #readBuffer}, a direct one once the native AEADs are ready (until then the same
     * heap buffer): for plain bytes that go on as they are or sealed (the backend's) and for TLS
     * records of an established session, opened there in place. A socket reads into it, and
     * writes from it, without NIO's copy.
     */
    ByteBuffer directReadBuffer();

    /**
     * Where TLS records are sealed: the loop's seal room (direct: written without NIO's copy), with at least {@code bytes} bytes free at
     * its position (records sealed in one event go one after the other; the room is reused once the
     * views of it were written or settled), or a buffer of their own when it is full.
     */
    ByteBuffer sealRoom(int bytes);

    /** {@code o} holds views of the loop's buffers: it is settled before they are reused. */
    void lent(Outbound o);

    /** Runs {@code task} on this loop after {@code delay}. */
    ScheduledFuture<?> later(long delay, TimeUnit unit, Runnable task);

    /** True when connections from {@code ip} must begin with a PROXY header (--accept-proxy-from). */
    boolean trustsProxy(InetAddress ip);

    /**
     * {@code c} now holds {@code grew} bytes more (or fewer) for the memory budget; when it grew,
     * what other loops marked here is closed (but {@code c}, whose callback runs) and, at the
     * budget's limit, the connections holding most are marked to be closed.
     */
    void accounted(Member c, long grew);

    /** The counters tests and operators read. */
    FrontEndStats stats();

    /** Rate-limited warnings, one kind per line kind. */
    RateLimitedLog warnings();

    /** Refused calls and dropped records: logged and counted by reason. */
    Refusals refusals();

    /** Hands {@code client} to the daemon's hand-off registry; its cookie. */
    long park(SocketChannel client, InetSocketAddress peer);

    /** The connector: hands {@code server}, connected to an RFC 9289 server, to the registry; the certificate must match {@code serverName}. */
    long parkForServer(SocketChannel server, String serverName);

    /** Takes a parked socket back; false when the daemon had claimed it already. */
    boolean withdraw(long cookie, SocketChannel client);

    /** The upcalls this loop makes (CONNECT, HANDLERECORD, DISCONNECT), to RPCTLSSD or, in the connector, RPCTLSCD. */
    Upcalls upcalls();

    /** The session the CONNECT upcall established under {@code cookie}, or null. */
    EstablishedSession established(long cookie);

    /** The front end's backend-connect permits. */
    ConnectPermits permits();

    /** Where backend connections come from (--backend-source-ports, --backend-source). */
    SourcePorts sourcePorts();

    /**
     * Every source port toward {@code backend} is in use: marks the holder ranking lowest to be
     * closed, its port going to {@code heir}; false when nobody may go.
     */
    boolean makePortRoom(Member newcomer, InetSocketAddress backend, Consumer<SourcePorts.Lease> heir);

    /** Whether each backend can be reached: told of every connect's outcome. */
    BackendHealth backendHealth();

    /** From another loop: {@code c}, this loop's, is to be closed here before anyone here grows again. */
    void markForClose(Member c);

    /** {@code c} is closed: it leaves every count and queue ({@code waitingForPermit}: its place in the permits' queue, or null). */
    void forget(Member c, Runnable waitingForPermit);
}
