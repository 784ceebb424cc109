package org.rpctlsservd.sessions;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.logging.Logger;

/**
 * The analogue of FreeBSD's {@code rpctls_syscall(socookie)}: the part that accepted a TCP
 * connection parks its socket here under an unguessable 64-bit cookie, and CONNECT claims it
 * exactly once. Whoever parked a socket may withdraw it again when its upcall fails, as the
 * kernel does when the daemon never took the socket.
 */
public final class SocketHandoff {
    private static final Logger LOG = Logger.getLogger(SocketHandoff.class.getName());

    private final SecureRandom random = new SecureRandom();
    private final ConcurrentMap<Long, Parked> parked = new ConcurrentHashMap<>();

    /**
     * A parked socket and the client it stands for: null when that is its peer, else the address
     * a PROXY protocol header gave (the peer is then the load balancer). {@code serverName}: for a
     * socket the connector connected to an RFC 9289 server, the name or IP literal the server's
     * certificate must match (null: none given, as from a kernel).
     */
    public record Parked(SocketChannel socket, java.net.InetSocketAddress client, String serverName) {
        public Parked(SocketChannel socket, java.net.InetSocketAddress client) {
            this(socket, client, null);
        }
    }

    /** Parks {@code socket} and returns its cookie: random, never 0, unique among parked sockets. */
    public long park(SocketChannel socket) {
        return park(socket, null);
    }

    /** Parks {@code socket}, which stands for {@code client} (null: its peer). */
    public long park(SocketChannel socket, java.net.InetSocketAddress client) {
        return park(new Parked(socket, client, null));
    }

    /** Parks a socket connected to an RFC 9289 server whose certificate must match {@code serverName}. */
    public long parkForServer(SocketChannel socket, String serverName) {
        return park(new Parked(socket, null, serverName));
    }

    private long park(Parked p) {
        while (true) {
            long cookie = random.nextLong();
            if (cookie != 0 && parked.putIfAbsent(cookie, p) == null) {
                return cookie;
            }
        }
    }

    /** Takes the socket for {@code cookie}; empty when unknown or already claimed. */
    public Optional<Parked> claim(long cookie) {
        return Optional.ofNullable(parked.remove(cookie));
    }

    /** The parker takes its socket back (its upcall failed); false when CONNECT already took it. */
    public boolean withdraw(long cookie, SocketChannel socket) {
        Parked p = parked.get(cookie);
        return p != null && p.socket() == socket && parked.remove(cookie, p);
    }

    public int size() {
        return parked.size();
    }

    /** Closes every socket still parked (daemon shutdown). */
    public void closeAll() {
        for (Long cookie : parked.keySet()) {
            Parked p = parked.remove(cookie);
            if (p != null) {
                try {
                    p.socket().close();
                } catch (IOException e) {
                    LOG.fine(() -> "closing a parked socket: " + e.getMessage());
                }
            }
        }
    }
}
