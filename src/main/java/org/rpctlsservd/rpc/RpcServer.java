package org.rpctlsservd.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.concurrent.ScheduledExecutorService;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/** One RPC service address: TCP and UDP on the same port, both answered by one dispatcher. */
public final class RpcServer implements Closeable {
    private final StreamRpcServer tcp;
    private final UdpRpcServer udp;
    private final InetAddress address;

    private RpcServer(InetAddress address, StreamRpcServer tcp, UdpRpcServer udp) {
        this.address = address;
        this.tcp = tcp;
        this.udp = udp;
    }

    /**
     * Binds TCP and UDP on {@code address} ({@code port} 0: the same free port for both) and
     * starts serving.
     */
    public static RpcServer start(InetSocketAddress address, RpcDispatcher dispatcher, ServerLimits limits,
            ScheduledExecutorService timer) throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < 20; attempt++) {
            ServerSocketChannel ss = ServerSocketChannel.open();
            try {
                ss.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ss.bind(address, 128);
                int port = ((InetSocketAddress) ss.getLocalAddress()).getPort();
                DatagramSocket ds;
                try {
                    ds = new DatagramSocket(new InetSocketAddress(address.getAddress(), port));
                } catch (BindException e) {
                    ss.close();
                    last = e;
                    if (address.getPort() != 0) {
                        throw new BindException("UDP port " + address.getPort() + " on " + address.getAddress().getHostAddress() + ": " + e.getMessage());
                    }
                    continue;
                }
                StreamRpcServer tcp = new StreamRpcServer(ss, "tcp-" + port, false, null, dispatcher, limits, timer).start();
                UdpRpcServer udp = new UdpRpcServer(ds, dispatcher, limits).start();
                return new RpcServer(address.getAddress(), tcp, udp);
            } catch (IOException e) {
                ss.close();
                throw e;
            }
        }
        throw last;
    }

    /**
     * Serves {@code dispatcher} on a Unix-domain stream socket at {@code path}, mode 0600, to root
     * and to this process's user only (checked by SO_PEERCRED at accept, so that the moment
     * between bind and chmod grants nobody anything). A socket file left by a daemon that died is
     * replaced; one that still answers is not. {@code placement}: callers in this process (the
     * front end's upcall clients) whose connections are served on their own loops, or null.
     */
    public static StreamRpcServer startLocal(Path path, RpcDispatcher dispatcher, ServerLimits limits,
            ScheduledExecutorService timer, LoopPlacement placement) throws IOException {
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(path);
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            try (SocketChannel probe = SocketChannel.open(address)) {
                throw new BindException(path + " is in use by another process");
            } catch (IOException e) {
                if (e instanceof BindException) {
                    throw e;
                }
                Files.delete(path); // nobody answers: left behind by a daemon that died
            }
        }
        ServerSocketChannel ss = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ss.bind(address, 128);
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            UserPrincipal self = Files.getOwner(path, LinkOption.NOFOLLOW_LINKS);
            UserPrincipal root = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("root");
            StreamRpcServer.PeerCheck check = ch -> {
                UnixDomainPrincipal p = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                UserPrincipal user = p.user();
                return user.equals(root) || user.equals(self) ? null
                        : "user " + user.getName() + " is neither root nor " + self.getName();
            };
            return new StreamRpcServer(ss, "local-" + path.getFileName(), true, check, dispatcher, limits, timer, placement).start();
        } catch (IOException | RuntimeException e) {
            ss.close();
            Files.deleteIfExists(path);
            throw e;
        }
    }

    public int port() {
        return tcp.port();
    }

    public InetAddress address() {
        return address;
    }

    public StreamRpcServer tcp() {
        return tcp;
    }

    @Override
    public void close() {
        tcp.close();
        udp.close();
    }
}
