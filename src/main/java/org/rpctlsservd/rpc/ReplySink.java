package org.rpctlsservd.rpc;

import java.net.InetSocketAddress;

/** Where the replies to one caller go: a TCP connection or a UDP peer. */
public interface ReplySink {
    /**
     * Sends one complete reply held in {@code reply} (its first {@link XdrWriter#MARK} bytes are free
     * for a record mark). Safe to call from any thread. Returns false, quietly, when the caller has
     * gone.
     */
    boolean send(XdrWriter reply);

    /** The caller's address; null for a Unix-domain caller. */
    InetSocketAddress peer();

    /**
     * True when the caller is privileged: a Unix-domain caller that the listener admitted (root or
     * the daemon's user), or a TCP/UDP caller from a reserved port (below 1024), which only root can
     * bind, as rpcbind judges SET.
     */
    default boolean privileged() {
        InetSocketAddress p = peer();
        return p != null && p.getPort() > 0 && p.getPort() < 1024;
    }

    /** The caller, for log lines. */
    default String who() {
        return org.rpctlsservd.guard.LogText.address(peer());
    }

    /** Counts calls whose reply is still owed, so that an idle timeout never cuts them off. */
    default void owed(int delta) {
    }
}
