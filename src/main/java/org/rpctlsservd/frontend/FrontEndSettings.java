package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.rpctlsservd.cli.Config;

/** What the front end is told, and nothing more of the command line. */
public record FrontEndSettings(
        List<InetSocketAddress> listen,
        InetSocketAddress backend,
        Config.Require require,
        Duration idleTimeout,
        Duration upcallTimeout,
        Duration writeTimeout,
        int ioThreads) {

    public FrontEndSettings {
        listen = List.copyOf(listen);
        if (ioThreads < 1) {
            throw new IllegalArgumentException("ioThreads must be at least 1");
        }
    }

    /** The front end's part of the command line. */
    public static FrontEndSettings from(Config c) {
        return new FrontEndSettings(c.listen(), c.backend(), c.require(), c.idleTimeout(), c.upcallTimeout(), c.writeTimeout(),
                c.ioThreads());
    }
}
