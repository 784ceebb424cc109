package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.rpctlsservd.rpc.RecordMarks;

/**
 * The record framing from the client: its bytes (clear, or decrypted by {@link TlsRecords}) cut
 * into RPC records for the call policy. A small record is handed on whole. A large one (its first
 * fragment longer than {@link #HEAD}, an NFS WRITE, say) is not assembled: the policy gets its
 * head, which holds the whole call header, and decides; then the rest streams through as it comes
 * (later fragments' marks and all) or is skipped. So a 1 MiB call costs no 1 MiB buffer and no copy,
 * and a client that announces a large record and sends little of it holds no memory for it.
 */
final class CallFraming {
    /**
     * Bytes of a large record the policy sees: more than any call header (RFC 5531: six words, two
     * opaque_auth of at most 400 bytes each, 840 bytes in all), so a record longer than this has
     * bytes after its header.
     */
    static final int HEAD = 1024;

    /** Where the records go. */
    interface Records {
        /** A whole record (small, or one whose first fragment was too short to decide on). */
        void record(byte[] rec);

        /**
         * The first {@link #HEAD} bytes of a record whose first fragment has {@code fragmentLength}
         * bytes ({@code last}: the record's only one); true when the rest of it is to be passed on
         * ({@link #body}), false when it is to be skipped. {@code head} is the callee's to keep.
         */
        boolean head(byte[] head, int fragmentLength, boolean last);

        /** More of a record passed on, as the stream has it: lent for this event. */
        void body(ByteBuffer bytes);
    }

    private enum Mode { START, WHOLE, HEAD, PASS, SKIP }

    private static final byte[] EMPTY = new byte[0];
    private final RecordMarks marks;
    private final Records records;
    private Mode mode = Mode.START;
    /** A small record being assembled, or a large one's head. */
    private byte[] record = EMPTY;
    private int length;
    private int firstFragment;
    private boolean firstIsLast;
    /** While a whole record is handed on: bytes after it came in the same read. */
    private boolean bytesFollow;

    CallFraming(int maxRecord, Records records) {
        this.marks = new RecordMarks(maxRecord);
        this.records = records;
    }

    /** Consumes everything {@code in} holds (a view lent for this event). */
    void feed(ByteBuffer in) throws IOException {
        while (in.hasRemaining()) {
            if (mode == Mode.PASS || mode == Mode.SKIP) {
                int start = in.position();
                int n = marks.advance(in, true);
                if (mode == Mode.PASS && n > 0) {
                    records.body(in.duplicate().position(start).limit(start + n));
                }
                if (marks.atBoundary()) {
                    mode = Mode.START;
                }
                continue;
            }
            int take = marks.body(in);
            if (take < 0) {
                return; // within a mark: the marks hold its bytes
            }
            if (mode == Mode.START) {
                firstFragment = marks.fragmentLeft();
                firstIsLast = marks.lastFragment();
                mode = firstFragment > HEAD ? Mode.HEAD : Mode.WHOLE;
                length = 0;
                record = mode == Mode.HEAD ? new byte[HEAD] : firstIsLast ? new byte[firstFragment] : EMPTY;
            }
            if (mode == Mode.HEAD) {
                int k = Math.min(take, HEAD - length);
                in.get(record, length, k);
                length += k;
                marks.took(k); // never the record's end: its first fragment is longer than the head
                if (length == HEAD) {
                    byte[] head = record;
                    record = EMPTY;
                    length = 0;
                    mode = records.head(head, firstFragment, firstIsLast) ? Mode.PASS : Mode.SKIP;
                }
                continue;
            }
            whole(in, take);
        }
    }

    /** {@code take} bytes of a small record, assembled; handed on when it ends. */
    private void whole(ByteBuffer in, int take) throws IOException {
        if (length + take > record.length) {
            // only a record of several fragments grows (its first one short): as its bytes arrive, never past its end
            int grown = Math.max(Math.max(256, record.length * 2), length + take);
            if (marks.lastFragment()) {
                grown = Math.min(grown, length + marks.fragmentLeft());
            }
            record = Arrays.copyOf(record, grown);
        }
        in.get(record, length, take);
        length += take;
        if (marks.took(take)) {
            byte[] out = length == record.length ? record : Arrays.copyOf(record, length);
            record = EMPTY;
            length = 0;
            mode = Mode.START;
            bytesFollow = in.hasRemaining();
            try {
                records.record(out);
            } finally {
                bytesFollow = false;
            }
        }
    }

    /**
     * Asked while a whole record is handed on: true when the client sent more after it without
     * waiting (after a STARTTLS probe, which must wait for its reply, that is a protocol error).
     */
    boolean bytesFollow() {
        return bytesFollow;
    }

    /** True when bytes of an unfinished record were read (held here, or passed on while it streams). */
    boolean midRecord() {
        return marks.midRecord();
    }

    /** Bytes held for an unfinished record, for the memory budget (a streaming one holds none). */
    long footprint() {
        return record.length;
    }
}
