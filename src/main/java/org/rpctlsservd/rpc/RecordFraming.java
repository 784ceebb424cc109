package org.rpctlsservd.rpc;

import java.io.IOException;

/**
 * RFC 5531 section 11 record marking: its limits and the mark written before a record. Records are
 * read by {@link RecordMarks}, for {@link RecordParser} (assembled) or the front end (passed on).
 */
public final class RecordFraming {
    private RecordFraming() {
    }

    /** A record over the cap: the connection cannot be resynchronised and must be closed. */
    public static final class RecordTooLargeException extends IOException {
        private static final long serialVersionUID = 1L;

        public RecordTooLargeException(long size, int cap) {
            super("record of at least " + size + " bytes exceeds the cap of " + cap);
        }

        public RecordTooLargeException(String message) {
            super(message);
        }
    }

    /** Fragments one record may have: real clients send one; thousands of empty ones are an attack. */
    public static final int MAX_FRAGMENTS = 1024;

    /** Writes the last-fragment mark for {@code length} bytes into {@code buf[0..4)}. */
    public static void putMark(byte[] buf, int length) {
        int m = 0x80000000 | length;
        buf[0] = (byte) (m >>> 24);
        buf[1] = (byte) (m >>> 16);
        buf[2] = (byte) (m >>> 8);
        buf[3] = (byte) m;
    }
}
