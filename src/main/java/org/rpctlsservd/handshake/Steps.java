package org.rpctlsservd.handshake;

import java.nio.channels.SocketChannel;
import java.util.concurrent.Executor;

/**
 * Where the steps of admitted handshakes run: the handshake workers, which also wait for the
 * handshakes' sockets themselves, so that bytes from a peer wake the worker that runs the next
 * step, with no selector thread in between. A handshake still holds no worker while it waits.
 */
public interface Steps extends Executor {
    /** Runs {@code callback} as a step once {@code ch} is readable, at end of stream, or closed. */
    void onReadable(SocketChannel ch, Runnable callback);

    /** Runs {@code callback} as a step once {@code ch} can take more bytes, or is closed. */
    void onWritable(SocketChannel ch, Runnable callback);

    /** {@code ch} is no longer waited for (the handshake is over and the socket goes on to a session). */
    void release(SocketChannel ch);
}
