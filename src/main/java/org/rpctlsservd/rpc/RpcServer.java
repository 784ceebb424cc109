package org.rpctlsservd.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.ScheduledExecutorService;

/** One RPC service address: TCP and UDP on the same port, both answered by one dispatcher. */
public final class RpcServer implements Closeable {
    private final TcpRpcServer tcp;
    private final UdpRpcServer udp;
    private final InetAddress address;

    private RpcServer(InetAddress address, TcpRpcServer tcp, UdpRpcServer udp) {
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
            ServerSocket ss = new ServerSocket();
            try {
                ss.setReuseAddress(true);
                ss.bind(address, 128);
                DatagramSocket ds;
                try {
                    ds = new DatagramSocket(new InetSocketAddress(address.getAddress(), ss.getLocalPort()));
                } catch (BindException e) {
                    ss.close();
                    last = e;
                    if (address.getPort() != 0) {
                        throw new BindException("UDP port " + address.getPort() + " on " + address.getAddress().getHostAddress() + ": " + e.getMessage());
                    }
                    continue;
                }
                TcpRpcServer tcp = new TcpRpcServer(ss, dispatcher, limits, timer).start();
                UdpRpcServer udp = new UdpRpcServer(ds, dispatcher, limits).start();
                return new RpcServer(address.getAddress(), tcp, udp);
            } catch (IOException e) {
                ss.close();
                throw e;
            }
        }
        throw last;
    }

    public int port() {
        return tcp.port();
    }

    public InetAddress address() {
        return address;
    }

    public TcpRpcServer tcp() {
        return tcp;
    }

    @Override
    public void close() {
        tcp.close();
        udp.close();
    }
}
