package org.rpctlsservd.rpc;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The one reader of RFC 5531 record marks: follows a byte stream fragment by fragment, as the bytes
 * arrive, and says where each record ends, holding none of the bytes. {@link RecordParser} uses it
 * to assemble records; the front end uses it alone ({@link #advance}) to pass the backend's replies
 * on as they come while knowing where records end. A record over the cap, or of more than
 * {@link RecordFraming#MAX_FRAGMENTS} fragments, is an error (the stream cannot be resynchronised).
 */
public final class RecordMarks {
    private final int cap;
    private int markHave;
    private int mark;
    /** Body bytes of the current fragment still to come; -1 while a mark is due. */
    private int fragmentLeft = -1;
    private boolean lastFragment;
    /** Body bytes of the current record so far. */
    private long length;
    private int fragments;

    public RecordMarks(int cap) {
        this.cap = cap;
    }

    /** True between records: what was read so far ends with a whole record (or nothing). */
    public boolean atBoundary() {
        return markHave == 0 && fragmentLeft < 0 && length == 0;
    }

    /** True when bytes of an unfinished record (a mark's, or a body's) have been read. */
    public boolean midRecord() {
        return !atBoundary();
    }

    /**
     * Reads the next fragment's mark from {@code in} when one is due; then how many of {@code in}'s
     * next bytes belong to the current fragment's body (the caller takes them and says so with
     * {@link #took}); -1 when {@code in} ran out within a mark.
     */
    public int body(ByteBuffer in) throws IOException {
        if (fragmentLeft < 0) {
            while (markHave < 4 && in.hasRemaining()) {
                mark = (mark << 8) | (in.get() & 0xff);
                markHave++;
            }
            if (markHave < 4) {
                return -1;
            }
            markHave = 0;
            lastFragment = mark < 0;
            fragmentLeft = mark & 0x7fffffff;
            mark = 0;
            if (++fragments > RecordFraming.MAX_FRAGMENTS) {
                throw new RecordFraming.RecordTooLargeException("record of more than " + RecordFraming.MAX_FRAGMENTS + " fragments");
            }
            if (length + fragmentLeft > cap) {
                throw new RecordFraming.RecordTooLargeException(length + fragmentLeft, cap);
            }
        }
        return Math.min(fragmentLeft, in.remaining());
    }

    /** Body bytes of the current fragment still to come (after {@link #body} returned 0 or more). */
    public int fragmentLeft() {
        return fragmentLeft;
    }

    /** Whether the current fragment is its record's last. */
    public boolean lastFragment() {
        return lastFragment;
    }

    /** {@code n} bytes of the current fragment's body were taken; true when they ended the record. */
    public boolean took(int n) {
        fragmentLeft -= n;
        length += n;
        if (fragmentLeft != 0) {
            return false;
        }
        fragmentLeft = -1;
        if (!lastFragment) {
            return false;
        }
        length = 0;
        fragments = 0;
        return true;
    }

    /**
     * Moves {@code in}'s position past the bytes that belong to the stream up to the end of the
     * current record when {@code stopAtBoundary}, else past all of it; returns how many it moved.
     */
    public int advance(ByteBuffer in, boolean stopAtBoundary) throws IOException {
        int start = in.position();
        while (in.hasRemaining()) {
            int take = body(in);
            if (take < 0) {
                break;
            }
            in.position(in.position() + take);
            if (took(take) && stopAtBoundary) {
                break;
            }
        }
        return in.position() - start;
    }
}
