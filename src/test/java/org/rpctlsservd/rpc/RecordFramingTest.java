package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Record marking fed from bytes: many fragments assemble whole, endless empty ones are refused. */
class RecordFramingTest {
    private static void fragment(ByteArrayOutputStream out, byte[] data, int from, int len, boolean last) {
        out.writeBytes(ByteBuffer.allocate(4).putInt((last ? 0x80000000 : 0) | len).array());
        out.write(data, from, len);
    }

    @Test
    void aRecordInManyFragmentsIsAssembledWhole() throws Exception {
        byte[] data = new byte[60_000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int per = 60; // 1000 fragments, within the bound
        for (int off = 0; off < data.length; off += per) {
            fragment(out, data, off, per, off + per == data.length);
        }
        java.util.List<byte[]> got = new java.util.ArrayList<>();
        new RecordParser(64 * 1024).feed(ByteBuffer.wrap(out.toByteArray()), got::add);
        assertEquals(1, got.size());
        assertArrayEquals(data, got.get(0));
    }

    @Test
    void endlessEmptyFragmentsAreRefused() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i <= RecordFraming.MAX_FRAGMENTS; i++) {
            fragment(out, new byte[0], 0, 0, false);
        }
        RecordFraming.RecordTooLargeException e = assertThrows(RecordFraming.RecordTooLargeException.class,
                () -> new RecordParser(64 * 1024).feed(ByteBuffer.wrap(out.toByteArray()), r -> { }));
        assertEquals("record of more than 1024 fragments", e.getMessage());
    }

    @Test
    void aClaimedLengthIsNotAllocatedUpFront() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        fragment(out, new byte[10], 0, 10, false);
        out.writeBytes(ByteBuffer.allocate(4).putInt(0x80000000 | 60_000).array()); // claims 60,000, sends 3
        out.write(1);
        out.write(2);
        out.write(3);
        RecordParser p = new RecordParser(64 * 1024);
        java.util.List<byte[]> got = new java.util.ArrayList<>();
        p.feed(ByteBuffer.wrap(out.toByteArray()), got::add);
        assertTrue(got.isEmpty() && p.midRecord());
        assertTrue(p.footprint() < 1024, "holds what arrived, not the 60,000 claimed: " + p.footprint());
    }
}
