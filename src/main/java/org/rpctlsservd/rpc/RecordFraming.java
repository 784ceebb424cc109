package org.rpctlsservd.rpc;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** RFC 5531 section 11 record marking on a byte stream, with a cap on a record's size. */
public final class RecordFraming {
    private RecordFraming() {
    }

    /** A record over the cap: the connection cannot be resynchronised and must be closed. */
    public static final class RecordTooLargeException extends IOException {
        private static final long serialVersionUID = 1L;

        RecordTooLargeException(long size, int cap) {
            super("record of at least " + size + " bytes exceeds the cap of " + cap);
        }

        RecordTooLargeException(String message) {
            super(message);
        }
    }

    /** A whole record: its bytes are {@code data[0..length)}. */
    public static final class Record {
        public final byte[] data;
        public final int length;

        Record(byte[] data, int length) {
            this.data = data;
            this.length = length;
        }
    }

    /** Fragments one record may have: real clients send one; thousands of empty ones are an attack. */
    public static final int MAX_FRAGMENTS = 1024;

    /**
     * Reads one record. Returns null on a clean end of stream before a record starts. Memory grows
     * only with bytes that actually arrived, never with a length claimed on the wire; fragments are
     * appended into a buffer that doubles, so assembling a record costs time linear in its size.
     */
    public static Record read(InputStream in, int cap) throws IOException {
        byte[] data = null;
        int length = 0;
        int fragments = 0;
        while (true) {
            byte[] mark = in.readNBytes(4);
            if (mark.length == 0 && fragments == 0) {
                return null;
            }
            if (mark.length < 4) {
                throw new EOFException("stream ended inside a record mark");
            }
            if (++fragments > MAX_FRAGMENTS) {
                throw new RecordTooLargeException("record of more than " + MAX_FRAGMENTS + " fragments");
            }
            int m = ((mark[0] & 0xff) << 24) | ((mark[1] & 0xff) << 16) | ((mark[2] & 0xff) << 8) | (mark[3] & 0xff);
            boolean last = m < 0;
            int fragment = m & 0x7fffffff;
            if ((long) length + fragment > cap) {
                throw new RecordTooLargeException((long) length + fragment, cap);
            }
            if (data == null && last) {
                byte[] bytes = in.readNBytes(fragment);
                if (bytes.length < fragment) {
                    throw new EOFException("stream ended inside a record");
                }
                return new Record(bytes, bytes.length);
            }
            if (data == null) {
                data = new byte[Math.min(cap, Math.max(256, fragment))];
            }
            // Grow only as bytes arrive: a claimed length is never allocated up front.
            int want = length + fragment;
            while (length < want) {
                if (length == data.length) {
                    data = Arrays.copyOf(data, (int) Math.min(cap, Math.max(256L, 2L * data.length)));
                }
                int n = in.read(data, length, Math.min(want, data.length) - length);
                if (n < 0) {
                    throw new EOFException("stream ended inside a record");
                }
                length += n;
            }
            if (last) {
                return new Record(data, length);
            }
        }
    }

    /** Writes the last-fragment mark for {@code length} bytes into {@code buf[0..4)}. */
    public static void putMark(byte[] buf, int length) {
        int m = 0x80000000 | length;
        buf[0] = (byte) (m >>> 24);
        buf[1] = (byte) (m >>> 16);
        buf[2] = (byte) (m >>> 8);
        buf[3] = (byte) m;
    }
}
