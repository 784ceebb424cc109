package org.rpctlsservd.support;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * A listener for a client that does not speak RFC 9289 (openssl s_client): each connection is
 * spliced to the front end after the STARTTLS probe and its reply, so the client's first bytes
 * are its ClientHello.
 */
public final class StartTlsSplice {
    private StartTlsSplice() {
    }

    /**
     * Listens on a loopback port (returned) and splices each connection to {@code frontEnd} on
     * {@code threads}; the listener and the sockets go to {@code toClose}, for the test to close.
     */
    public static int listen(int frontEnd, ExecutorService threads, List<AutoCloseable> toClose) throws IOException {
        ServerSocket l = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        toClose.add(l);
        threads.submit(() -> {
            while (!l.isClosed()) {
                Socket c = l.accept();
                Socket f = RawRpc.connect(frontEnd);
                toClose.add(c);
                toClose.add(f);
                byte[] probe = FrontEndHarness.probe(9);
                f.getOutputStream().write(ByteBuffer.allocate(4 + probe.length).putInt(0x80000000 | probe.length).put(probe).array());
                RawRpc.readRecord(new DataInputStream(f.getInputStream()));
                threads.submit(() -> pipe(c, f));
                threads.submit(() -> pipe(f, c));
            }
            return null;
        });
        return l.getLocalPort();
    }

    /** Copies {@code from}'s input to {@code to} until its end, then ends {@code to}'s output. */
    public static Void pipe(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
            to.shutdownOutput();
        } catch (IOException closed) {
            // one side went: the other follows when the test closes it
        }
        return null;
    }
}
