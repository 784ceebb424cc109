package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.rpctlsservd.rpc.RecordFraming;

/**
 * Follows RFC 5531 record marking through a byte stream without holding it: the backend's replies
 * are passed on to the client as they arrive (no record is assembled, no copy is made), and this
 * says where records end, so that the front end's own replies are put between records, never
 * inside one. A record over the cap or of too many fragments is an error, as for the parser.
 */
final class RecordMarks {
    private final int cap;
    private int markHave;
    private int mark;
    private int fragmentLeft = -1;
    private boolean lastFragment;
    private long length;
    private int fragments;

    RecordMarks(int cap) {
        this.cap = cap;
    }

    /** True between records: what was passed on so far ends with a whole record (or nothing). */
    boolean atBoundary() {
        return markHave == 0 && fragmentLeft < 0 && length == 0;
    }

    /**
     * Moves {@code in}'s position past the bytes that belong to the stream up to the end of the
     * current record when {@code stopAtBoundary}, else past all of it; returns how many it moved.
     */
    int advance(ByteBuffer in, boolean stopAtBoundary) throws IOException {
        int start = in.position();
        while (in.hasRemaining()) {
            if (fragmentLeft < 0) {
                while (markHave < 4 && in.hasRemaining()) {
                    mark = (mark << 8) | (in.get() & 0xff);
                    markHave++;
                }
                if (markHave < 4) {
                    break;
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
            int take = Math.min(fragmentLeft, in.remaining());
            in.position(in.position() + take);
            fragmentLeft -= take;
            length += take;
            if (fragmentLeft == 0) {
                fragmentLeft = -1;
                if (lastFragment) {
                    length = 0;
                    fragments = 0;
                    if (stopAtBoundary) {
                        break;
                    }
                }
            }
        }
        return in.position() - start;
    }
}
