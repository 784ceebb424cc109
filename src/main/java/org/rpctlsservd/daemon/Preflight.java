package org.rpctlsservd.daemon;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import org.rpctlsservd.cli.Config;

/**
 * The checks a start runs before it takes the pidfile or binds anything: the TLS context (certdir
 * pair, CA file and directory, CRL, cipher names) and the addresses to listen on. {@code --check}
 * runs exactly these, so it answers as a start would and can run beside a running daemon.
 */
final class Preflight {
    private Preflight() {
    }

    /** A refusal: the message is the whole line to print after the program name. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    static void check(Config config) throws Refused {
        try {
            TlsSetup.policy(config);
            TlsSetup.credentials(config);
            TlsSetup.trust(config);
        } catch (TlsSetup.SetupException e) {
            throw new Refused(e.getMessage());
        }
        ownAddress("--rpc-address", config.rpcAddress());
        for (Config.Relay r : config.allRelays()) {
            ownAddress(config.listen().contains(r.listen()) ? "--listen" : "--relay", r.listen());
        }
        for (java.net.InetAddress a : config.backendSources()) {
            ownAddress("--backend-source", new InetSocketAddress(a, 0));
        }
        if (config.metrics() != null) {
            ownAddress("--metrics", config.metrics());
        }
        Path socketDir = config.rpcSocket().getParent();
        if (socketDir != null && !Files.isDirectory(socketDir)) {
            throw new Refused("--rpc-socket " + config.rpcSocket() + ": no directory " + socketDir);
        }
    }

    /** An address a socket can be bound to here: the wildcard, or one of this host's. */
    private static void ownAddress(String option, InetSocketAddress a) throws Refused {
        InetAddress ip = a.getAddress();
        try {
            if (ip.isAnyLocalAddress() || ip.isLoopbackAddress() || NetworkInterface.getByInetAddress(ip) != null) {
                return;
            }
        } catch (IOException e) {
            throw new Refused(option + " " + ip.getHostAddress() + ": cannot list this host's addresses: " + e.getMessage());
        }
        throw new Refused(option + " " + ip.getHostAddress() + ":" + a.getPort() + ": not an address of this host");
    }
}
