package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * --connect: a plain listener for RPC clients, and the RFC 9289 server the connector takes each of
 * them to over TLS. {@code serverHost} is a DNS name or an IP literal, resolved at each connect
 * (the server's certificate must match it); {@code certName} names the client certificate for this
 * server under --certdir, "" for the daemon's own (as a mount's certificate name in FreeBSD).
 */
public record Connect(InetSocketAddress listen, String serverHost, int serverPort, String certName) {
    public Connect {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(serverHost, "serverHost");
        certName = certName == null ? "" : certName;
        if (serverHost.isBlank()) {
            throw new IllegalArgumentException("the server's host is empty");
        }
        if (serverPort < 1 || serverPort > 65535) {
            throw new IllegalArgumentException("the server's port " + serverPort + " is not between 1 and 65535");
        }
        // it names files under --certdir: no way out of it
        if (certName.contains("/") || certName.startsWith(".")) {
            throw new IllegalArgumentException("certname " + certName + " may not contain / nor start with a dot");
        }
    }

    /**
     * The server as /ready tracks it: its address for an IP literal; for a name, the name unresolved,
     * so every address it resolves to at a connect (or a probe) speaks for it.
     */
    public InetSocketAddress healthKey() {
        java.net.InetAddress literal = ServerNames.literalAddress(serverHost);
        return literal != null ? new InetSocketAddress(literal, serverPort) : InetSocketAddress.createUnresolved(serverHost, serverPort);
    }

    /** {@code host:port}, brackets around an IPv6 literal. */
    public String server() {
        return (serverHost.indexOf(':') >= 0 ? "[" + serverHost + "]" : serverHost) + ":" + serverPort;
    }
}
