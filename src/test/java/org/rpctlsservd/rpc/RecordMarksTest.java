package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Following record marks through a stream that is passed on as it comes, fed bytes without sockets. */
class RecordMarksTest {
    /** Two records: one of two fragments (3 + 2 bytes), one of a single empty last fragment. */
    private static final byte[] STREAM = ByteBuffer.allocate(4 + 3 + 4 + 2 + 4).putInt(3).put(new byte[] {1, 2, 3})
            .putInt(0x80000002).put(new byte[] {4, 5}).putInt(0x80000000).array();

    @Test
    void knowsWhereEachRecordEndsWhateverTheChunks() throws Exception {
        for (int chunk = 1; chunk <= STREAM.length; chunk++) {
            RecordMarks m = new RecordMarks(1024);
            int boundaries = 0;
            StringBuilder ends = new StringBuilder();
            for (int off = 0; off < STREAM.length; off += chunk) {
                ByteBuffer b = ByteBuffer.wrap(STREAM, off, Math.min(chunk, STREAM.length - off));
                while (b.hasRemaining()) {
                    m.advance(b, true);
                    if (m.atBoundary()) {
                        boundaries++;
                        ends.append(b.position()).append(' ');
                    }
                }
            }
            assertEquals(2, boundaries, "chunks of " + chunk + ": ends at " + ends);
            assertTrue(ends.toString().startsWith("13 ") || chunk < 13, ends.toString());
            assertTrue(m.atBoundary());
        }
    }

    @Test
    void passesEverythingWhenNotAskedToStopAndSaysWhenARecordIsOpen() throws Exception {
        RecordMarks m = new RecordMarks(1024);
        ByteBuffer b = ByteBuffer.wrap(STREAM, 0, 9);
        assertEquals(9, m.advance(b, false));
        assertFalse(m.atBoundary(), "inside the first record");
        ByteBuffer rest = ByteBuffer.wrap(STREAM, 9, STREAM.length - 9);
        assertEquals(4, m.advance(rest, true), "stops right after the first record");
        assertTrue(m.atBoundary());
        assertEquals(4, m.advance(rest, false));
        assertTrue(m.atBoundary());
    }

    @Test
    void aRecordOverTheCapOrOfTooManyFragmentsIsAnError() {
        RecordMarks m = new RecordMarks(100);
        IOException big = assertThrows(IOException.class,
                () -> m.advance(ByteBuffer.allocate(4 + 60 + 4).putInt(60).put(new byte[60]).putInt(0x80000000 | 41).flip(), false));
        assertEquals("record of at least 101 bytes exceeds the cap of 100", big.getMessage());
        ByteBuffer empties = ByteBuffer.allocate(4 * (RecordFraming.MAX_FRAGMENTS + 1));
        RecordMarks n = new RecordMarks(100);
        IOException many = assertThrows(IOException.class, () -> n.advance(empties, false));
        assertEquals("record of more than 1024 fragments", many.getMessage());
    }
}
