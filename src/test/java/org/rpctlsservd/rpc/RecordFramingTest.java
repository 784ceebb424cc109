package org.rpctlsservd.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
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
        RecordFraming.Record r = RecordFraming.read(new ByteArrayInputStream(out.toByteArray()), 64 * 1024);
        assertEquals(data.length, r.length);
        byte[] got = new byte[r.length];
        System.arraycopy(r.data, 0, got, 0, r.length);
        assertArrayEquals(data, got);
    }

    @Test
    void endlessEmptyFragmentsAreRefused() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i <= RecordFraming.MAX_FRAGMENTS; i++) {
            fragment(out, new byte[0], 0, 0, false);
        }
        RecordFraming.RecordTooLargeException e = assertThrows(RecordFraming.RecordTooLargeException.class,
                () -> RecordFraming.read(new ByteArrayInputStream(out.toByteArray()), 64 * 1024));
        assertEquals("record of more than 1024 fragments", e.getMessage());
    }

    @Test
    void aClaimedLengthIsNotAllocatedUpFront() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        fragment(out, new byte[10], 0, 10, false);
        out.writeBytes(ByteBuffer.allocate(4).putInt(0x80000000 | 60_000).array()); // claims 60,000, sends 3
        out.write(1);
        out.write(2);
        out.write(3);
        assertThrows(java.io.EOFException.class, () -> RecordFraming.read(new ByteArrayInputStream(out.toByteArray()), 64 * 1024));
    }
}
