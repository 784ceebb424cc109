package org.rpctlsservd.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Reads a blocking socket channel (TCP or Unix-domain) as a stream. Written by hand because the
 * JDK 17 streams of Channels.newInputStream hold the channel's blocking lock while they wait,
 * which would hold up a reply being written on the same connection.
 */
final class ChannelInput extends InputStream {
    private final SocketChannel ch;

    ChannelInput(SocketChannel ch) {
        this.ch = ch;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
    }

    /** Writes all of {@code b} to a blocking channel. */
    static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
