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

    InetSocketAddress peer();

    /** Counts calls whose reply is still owed, so that an idle timeout never cuts them off. */
    default void owed(int delta) {
    }
}
