package org.rpctlsservd.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * sd_notify(3) for {@code Type=notify}: READY=1 once the service is registered and the front end
 * listens, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 on the way out. The messages
 * are Unix-domain datagrams to {@code $NOTIFY_SOCKET}, which the JDK cannot send; junixsocket can.
 * Without {@code NOTIFY_SOCKET} (not started by systemd) every call does nothing.
 */
final class SystemdNotify {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    private final String socket;

    SystemdNotify(String notifySocket) {
        this.socket = notifySocket == null || notifySocket.isEmpty() ? null : notifySocket;
    }

    static SystemdNotify fromEnvironment() {
        return new SystemdNotify(System.getenv("NOTIFY_SOCKET"));
    }

    void ready() {
        send("READY=1\nSTATUS=serving\nMAINPID=" + ProcessHandle.current().pid());
    }

    void reloading() {
        // MONOTONIC_USEC: systemd (253+) matches the reload to the signal it sent; older ones ignore it.
        send("RELOADING=1\nMONOTONIC_USEC=" + monotonicMicros());
    }

    void stopping() {
        send("STOPPING=1");
    }

    private static long monotonicMicros() {
        // CLOCK_MONOTONIC is what System.nanoTime() reads on Linux.
        return System.nanoTime() / 1000;
    }

    private void send(String state) {
        if (socket == null) {
            return;
        }
        byte[] b = state.getBytes(StandardCharsets.UTF_8);
        try (AFUNIXDatagramChannel ch = AFUNIXDatagramChannel.open()) {
            AFUNIXSocketAddress to = socket.startsWith("@")
                    ? AFUNIXSocketAddress.inAbstractNamespace(socket.substring(1))
                    : AFUNIXSocketAddress.of(Path.of(socket));
            ch.send(ByteBuffer.wrap(b), to);
        } catch (IOException | RuntimeException | LinkageError e) {
            // systemd then sees no readiness and says so; the daemon itself is fine
            LOG.warning("cannot notify systemd at " + socket + ": " + e);
        }
    }
}
