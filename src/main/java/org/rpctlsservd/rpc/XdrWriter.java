package org.rpctlsservd.rpc;

import java.net.InetAddress;
import java.util.Arrays;
import org.acplt.oncrpc.XdrEncodingStream;

/**
 * XDR encoding into a growing in-memory buffer that keeps four bytes free at its start for the
 * TCP record mark. Written by hand because Remote Tea's buffer stream has a fixed capacity and no
 * room for the mark, and a reply must be complete in memory before it is written (so a failing
 * encoder never leaves half a record on a shared connection).
 */
public final class XdrWriter extends XdrEncodingStream {
    public static final int MARK = 4;
    private byte[] buf;
    private int pos = MARK;

    public XdrWriter(int initialCapacity) {
        buf = new byte[Math.max(initialCapacity, 64) + MARK];
    }

    /** Bytes of XDR written, excluding the reserved record-mark room. */
    public int length() {
        return pos - MARK;
    }

    /** The backing array: the record mark room, then {@link #length()} bytes of XDR. */
    public byte[] array() {
        return buf;
    }

    /** A copy of the XDR bytes alone. */
    public byte[] toByteArray() {
        return Arrays.copyOfRange(buf, MARK, pos);
    }

    private void ensure(int n) {
        if (pos + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
        }
    }

    @Override
    public void beginEncoding(InetAddress receiverAddress, int receiverPort) {
    }

    @Override
    public void endEncoding() {
    }

    @Override
    public void close() {
    }

    @Override
    public void xdrEncodeInt(int v) {
        ensure(4);
        buf[pos] = (byte) (v >>> 24);
        buf[pos + 1] = (byte) (v >>> 16);
        buf[pos + 2] = (byte) (v >>> 8);
        buf[pos + 3] = (byte) v;
        pos += 4;
    }

    @Override
    public void xdrEncodeOpaque(byte[] value, int offset, int length) {
        int padded = XdrReader.padded(length);
        ensure(padded);
        System.arraycopy(value, offset, buf, pos, length);
        Arrays.fill(buf, pos + length, pos + padded, (byte) 0);
        pos += padded;
    }
}
