package org.rpctlsservd.rpc;

import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.rpctlsservd.io.IoLoop;

/**
 * Which event loop serves the service side of a Unix-domain caller's connection. A caller in this
 * process (the front end's upcall client on one of its loops) binds its socket to a path it
 * announces here first; the service then serves that connection on the caller's own loop, so an
 * upcall, its handling and its answer need no other thread. Each announcement is used once; any
 * other caller is served on the service's own loop.
 */
public final class LoopPlacement {
    private final Map<Path, IoLoop> expected = new ConcurrentHashMap<>();

    /** The next connection from a socket bound to {@code path} is to be served on {@code loop}. */
    public void expect(Path path, IoLoop loop) {
        expected.put(path, loop);
    }

    /** A caller that never came (its bind or connect failed): nobody else gets its place. */
    public void withdraw(Path path) {
        expected.remove(path);
    }

    /** At accept: the loop announced for a caller bound to {@code remote}, once; null for any other caller. */
    IoLoop claim(SocketAddress remote) {
        if (remote instanceof UnixDomainSocketAddress u && !u.getPath().toString().isEmpty()) {
            return expected.remove(u.getPath());
        }
        return null;
    }
}
