package org.rpctlsservd.rpc;

import java.net.InetAddress;
import org.acplt.oncrpc.OncRpcException;
import org.acplt.oncrpc.XdrDecodingStream;

/**
 * XDR decoding over one whole record held in memory. Written by hand (instead of Remote Tea's
 * XdrBufferDecodingStream) because callers need {@link #remaining()} to detect short or trailing
 * arguments, and must be able to check a length against the bytes present before allocating.
 */
public final class XdrReader extends XdrDecodingStream {
    private final byte[] buf;
    private final int end;
    private int pos;

    public XdrReader(byte[] buf, int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > buf.length) {
            throw new IllegalArgumentException("slice out of range");
        }
        this.buf = buf;
        this.pos = offset;
        this.end = offset + length;
    }

    public int remaining() {
        return end - pos;
    }

    public int position() {
        return pos;
    }

    /** Skips {@code n} bytes plus XDR padding, failing when they are not all there. */
    public void skipOpaque(int n) throws OncRpcException {
        int padded = padded(n);
        if (n < 0 || padded > remaining()) {
            throw new OncRpcException(OncRpcException.RPC_BUFFERUNDERFLOW);
        }
        pos += padded;
    }

    static int padded(int n) {
        return (n + 3) & ~3;
    }

    @Override
    public InetAddress getSenderAddress() {
        return null;
    }

    @Override
    public int getSenderPort() {
        return 0;
    }

    @Override
    public void beginDecoding() {
    }

    @Override
    public void endDecoding() {
    }

    @Override
    public void close() {
    }

    @Override
    public int xdrDecodeInt() throws OncRpcException {
        if (remaining() < 4) {
            throw new OncRpcException(OncRpcException.RPC_BUFFERUNDERFLOW);
        }
        int v = ((buf[pos] & 0xff) << 24) | ((buf[pos + 1] & 0xff) << 16) | ((buf[pos + 2] & 0xff) << 8) | (buf[pos + 3] & 0xff);
        pos += 4;
        return v;
    }

    @Override
    public byte[] xdrDecodeOpaque(int length) throws OncRpcException {
        if (length < 0 || padded(length) > remaining()) {
            throw new OncRpcException(OncRpcException.RPC_BUFFERUNDERFLOW);
        }
        byte[] out = new byte[length];
        System.arraycopy(buf, pos, out, 0, length);
        pos += padded(length);
        return out;
    }

    @Override
    public void xdrDecodeOpaque(byte[] opaque, int offset, int length) throws OncRpcException {
        if (length < 0 || padded(length) > remaining()) {
            throw new OncRpcException(OncRpcException.RPC_BUFFERUNDERFLOW);
        }
        System.arraycopy(buf, pos, opaque, offset, length);
        pos += padded(length);
    }
}
