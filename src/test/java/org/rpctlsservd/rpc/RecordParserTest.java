package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
}
