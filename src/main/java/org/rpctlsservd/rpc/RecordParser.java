package org.rpctlsservd.rpc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * RFC 5531 record marking, parsed incrementally from bytes as they arrive on a non-blocking
 * socket: every complete record is handed on whole (the marks are read by {@link RecordMarks}). A
 * record over the cap is an error (the stream cannot be resynchronised). Memory grows only with the
 * bytes that arrived.
 */
public final class RecordParser {
    private final RecordMarks marks;
    private static final byte[] EMPTY = new byte[0];
    private byte[] record = EMPTY;
    private int length;

    public RecordParser(int cap) {
        this.marks = new RecordMarks(cap);
    }

    /** True when bytes of an unfinished record are held. */
    public boolean midRecord() {
        return marks.midRecord();
    }

    /** Consumes everything {@code in} holds; calls {@code sink} with each complete record (a fresh array of its exact length). */
    public void feed(ByteBuffer in, Consumer<byte[]> sink) throws IOException {
        while (in.hasRemaining()) {
            int take = marks.body(in);
            if (take < 0) {
                return;
            }
            int fragmentLeft = marks.fragmentLeft();
            boolean lastFragment = marks.lastFragment();
            if (length == 0 && lastFragment && take == fragmentLeft && record.length != take) {
                record = new byte[take]; // the whole record is here: its exact array, no copy at the end
            } else if (length + take > record.length) {
                int grown = Math.max(Math.max(256, record.length * 2), length + take);
                if (lastFragment) {
                    // never past the record's declared end: it fills its exact array, with no copy at the
                    // end (a 1 MiB call grew to 2 MiB and was then copied down to its length)
                    grown = Math.min(grown, length + fragmentLeft);
                }
                record = Arrays.copyOf(record, grown);
            }
            in.get(record, length, take);
            length += take;
            if (marks.took(take)) {
                byte[] out;
                if (length == record.length) {
                    out = record;
                    record = EMPTY;
                } else {
                    out = Arrays.copyOf(record, length);
                    if (record.length > 64 * 1024) {
                        record = EMPTY; // do not keep a large buffer for an idle connection
                    }
                }
                length = 0;
                sink.accept(out);
            }
        }
    }

    /** Bytes this parser holds for an unfinished record (its buffer), for the memory budget. */
    public int footprint() {
        return record.length;
    }

    /** Frames {@code rec} as one last fragment. */
    public static ByteBuffer framed(byte[] rec) {
        ByteBuffer b = ByteBuffer.allocate(4 + rec.length);
        b.putInt(lastFragment(rec.length)).put(rec).flip();
        return b;
    }

    /** The record mark of a record of {@code length} bytes sent as one last fragment, alone (to go before the record in a gathering write). */
    public static ByteBuffer markOf(int length) {
        return markOf(length, true);
    }

    /** The mark of a fragment of {@code length} bytes, its record's last or not. */
    public static ByteBuffer markOf(int length, boolean last) {
        return ByteBuffer.allocate(4).putInt(0, last ? lastFragment(length) : length);
    }

    private static int lastFragment(int length) {
        return 0x80000000 | length;
    }
}
