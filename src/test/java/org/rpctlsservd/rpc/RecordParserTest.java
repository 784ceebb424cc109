package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The front end's incremental framer, fed bytes without sockets. */
class RecordParserTest {
    @Test
    void fragmentsAcrossFeedsMakeOneRecordAndTooManyFragmentsAreAnError() throws Exception {
        RecordParser p = new RecordParser(1 << 20);
        List<byte[]> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.allocate(3 * 1000 * 8);
        for (int i = 0; i < 1000; i++) {
            b.putInt((i == 999 ? 0x80000000 : 0) | 4).putInt(i);
        }
        b.flip();
        while (b.hasRemaining()) { // three bytes at a time, as a slow peer would send them
            ByteBuffer piece = b.slice();
            piece.limit(Math.min(3, piece.remaining()));
            b.position(b.position() + piece.limit());
            p.feed(piece, out::add);
        }
        assertEquals(1, out.size());
        ByteBuffer rec = ByteBuffer.wrap(out.get(0));
        for (int i = 0; i < 1000; i++) {
            assertEquals(i, rec.getInt());
        }

        ByteBuffer empties = ByteBuffer.allocate(4 * (RecordFraming.MAX_FRAGMENTS + 1));
        for (int i = 0; i <= RecordFraming.MAX_FRAGMENTS; i++) {
            empties.putInt(0);
        }
        empties.flip();
        IOException e = assertThrows(IOException.class, () -> p.feed(empties, out::add));
        assertEquals("record of more than 1024 fragments", e.getMessage());
    }

    @Test
    void aLargeRecordGrowsWithWhatArrivedButNeverPastItsDeclaredLength() throws Exception {
        int size = (1 << 20) + 40; // a 1 MiB WRITE's arguments and its call header
        RecordParser p = new RecordParser(4 << 20);
        List<byte[]> out = new ArrayList<>();
        ByteBuffer head = ByteBuffer.allocate(4).putInt(0x80000000 | size);
        head.flip();
        p.feed(head, out::add);
        assertEquals(0, p.footprint(), "a mark alone allocates nothing: memory follows the bytes that came");
        int arrived = 0;
        while (arrived < size) {
            int n = Math.min(10_000, size - arrived); // pieces of about a TLS record's plaintext
            ByteBuffer piece = ByteBuffer.allocate(n);
            for (int i = 0; i < n; i++) {
                piece.put((byte) (arrived + i));
            }
            piece.flip();
            p.feed(piece, out::add);
            arrived += n;
            if (arrived < size) {
                assertTrue(p.footprint() <= Math.max(256, 2 * arrived), "held " + p.footprint() + " for " + arrived + " bytes");
                assertTrue(p.footprint() <= size, "held " + p.footprint() + ", more than the record's " + size + " bytes");
            }
        }
        assertEquals(1, out.size());
        byte[] rec = out.get(0);
        assertEquals(size, rec.length);
        for (int i = 0; i < size; i += 4093) {
            assertEquals((byte) i, rec[i]);
        }
        assertEquals(0, p.footprint(), "nothing kept once the record went");
    }
}
