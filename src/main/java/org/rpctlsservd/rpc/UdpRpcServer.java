package org.rpctlsservd.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.logging.Logger;
import org.rpctlsservd.guard.RateLimitedLog;

/** ONC-RPC over UDP: one receiving thread; each datagram is one call, replies go to its sender. */
public final class UdpRpcServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(UdpRpcServer.class.getName());
    private static final int MAX_DATAGRAM = 65535;

    private final DatagramSocket socket;
    private final RpcDispatcher dispatcher;
    private final int maxRecordBytes;
    private final Thread thread;
    private volatile boolean closed;
    private final RateLimitedLog warnings = new RateLimitedLog(Logger.getLogger("rpctlssd"));

    public UdpRpcServer(DatagramSocket socket, RpcDispatcher dispatcher, ServerLimits limits) {
        this.socket = socket;
        this.dispatcher = dispatcher;
        this.maxRecordBytes = Math.min(MAX_DATAGRAM, limits.maxRecordBytes());
        this.thread = new Thread(this::run, "rpc-udp-" + socket.getLocalPort());
        this.thread.setDaemon(true);
    }

    public UdpRpcServer start() {
        thread.start();
        return this;
    }

    public int port() {
        return socket.getLocalPort();
    }

    private void run() {
        byte[] buf = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(p);
            } catch (IOException e) {
                if (!closed) {
                    warnings.warning("udp-receive", () -> "UDP receive on port " + port() + " failed: " + org.rpctlsservd.guard.LogText.why(e));
                }
                continue;
            }
            if (p.getLength() > maxRecordBytes) {
                LOG.fine(() -> "dropped an oversized datagram from " + org.rpctlsservd.guard.LogText.address(p.getSocketAddress()));
                continue;
            }
            byte[] record = Arrays.copyOf(buf, p.getLength());
            InetSocketAddress from = (InetSocketAddress) p.getSocketAddress();
            try {
                dispatcher.handle(record, record.length, new Peer(from));
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.SEVERE, "datagram from " + org.rpctlsservd.guard.LogText.address(from) + " failed", e);
            }
        }
    }

    private final class Peer implements ReplySink {
        private final InetSocketAddress address;

        Peer(InetSocketAddress address) {
            this.address = address;
        }

        @Override
        public boolean send(XdrWriter reply) {
            if (closed) {
                return false;
            }
            try {
                socket.send(new DatagramPacket(reply.array(), XdrWriter.MARK, reply.length(), address));
                return true;
            } catch (IOException e) {
                LOG.fine(() -> "reply to " + address + " not sent: " + e.getMessage());
                return false;
            }
        }

        @Override
        public InetSocketAddress peer() {
            return address;
        }
    }

    @Override
    public void close() {
        closed = true;
        socket.close();
        StreamRpcServer.joinQuietly(thread);
    }
}
