package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.util.function.Consumer;
import org.rpctlsservd.metrics.Metrics.Shed;

/**
 * A client connection as the front end's shared services see it (admission, memory shedding, the
 * source-port room, the sweep): what it has earned, how idle it is, what it holds, and how to close
 * it. Its getters are snapshots readable from any loop; the closing methods say on which loop they run.
 */
interface Member {
    /**
     * What a connection has earned, for who goes first when room must be made: nothing yet; its
     * probe answered or a call relayed; a TLS session. BUSY: its socket is with the handshake.
     */
    int UNEARNED = 0;
    int EARNED = 1;
    int TLS_SESSION = 2;
    int BUSY = 3;

    /** Why the front end closes a connection to protect the others, and the bytes it held when so marked. */
    record Doom(Shed why, long held) {
    }

    int earned();

    /** The connector's server ({@code host:port} as --connect gave it); null in the front end. */
    default String server() {
        return null;
    }

    /** When it last made progress either way (System.nanoTime). */
    long lastActivity();

    /** Quiet a while (the sweep's {@code quietNanos}): its TLS session gives up what its next record can make again. */
    void quiet();

    /** When bytes last came from the client. */
    long lastFromClient();

    long acceptedAt();

    /** The bytes it last reported to the budget, and of those the bytes of a client record not yet complete. */
    long reported();

    long unfinished();

    boolean closed();

    /** Its socket is with the handshake (the idle timeout does not apply). */
    boolean handshaking();

    /** It relays over TLS (for the gauges). */
    boolean tls();

    /** True when the connection has reached --require. */
    boolean meetsRequire();

    /** True when its backend connection holds a source port toward {@code backend}. */
    boolean holdsPortTo(InetSocketAddress backend);

    /** From any thread: marks it to be closed for {@code why}; false when it was marked already (or is gone). */
    boolean doom(Shed why, long held);

    boolean doomed();

    /** On its loop, as it is forgotten: no mark from now on; the mark it had, or null. */
    Doom gone();

    /** From the loop that marked it to make room: its source port goes to {@code heir} (which runs on its own loop) when it closes. */
    void portHeir(Consumer<SourcePorts.Lease> heir);

    /** On its loop: closes both sides now. */
    void teardown(String reason);

    /** From any thread: closes it on its own loop, after what that loop is doing now. */
    void closeSoon(String reason);

    /** From another loop: closes it on its own loop before that loop lets any connection grow again. */
    void markForClose(String reason);

    /** Why another loop marked it (the log's reason). */
    String markedReason();

    boolean inLoop();

    /** The sweep, on its loop: a side that took no bytes for the write timeout is given up. */
    void checkStuck(long now, long writeTimeoutNanos);

    /** At the front end's close, after the loops stopped: the client socket goes, whatever state it was in. */
    void closeClientSocket();

    /**
     * Closes a marked connection: here and now when it is this loop's and not {@code caller} (the
     * one whose callback is running: it is closed right after); else on its own loop, before that
     * loop lets any connection grow again.
     */
    static void close(Member c, Member caller, String reason) {
        if (c == caller) {
            c.closeSoon(reason);
        } else if (c.inLoop()) {
            c.teardown(reason);
        } else {
            c.markForClose(reason);
        }
    }
}
