package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.rpctlsservd.rpc.RecordParser;

/**
 * The client's framing, small records whole and large ones streamed behind their heads: whatever
 * the records, their fragments and the reads that cut them, what it hands on, framed again as the
 * backend relay frames it, is the same records (those the policy let through), in order.
 */
class CallFramingPropertiesTest {

    @Provide
    Arbitrary<List<Integer>> sizes() {
        return Arbitraries.oneOf(Arbitraries.integers().between(0, CallFraming.HEAD + 8),
                Arbitraries.integers().between(CallFraming.HEAD + 1, 70_000)).list().ofMaxSize(12);
    }

    @Property(tries = 150)
    void recordsComeOutAsTheyWentIn(@ForAll("sizes") List<Integer> sizes, @ForAll long seed) throws IOException {
        Random random = new Random(seed);
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        List<byte[]> expected = new ArrayList<>();
        List<Boolean> passes = new ArrayList<>();
        for (int size : sizes) {
            byte[] rec = new byte[size];
            random.nextBytes(rec);
            // cut into 1 to 4 fragments at random points (the first one decides whether the head path is taken)
            int pieces = size == 0 ? 1 : 1 + random.nextInt(Math.min(4, size));
            int[] cuts = new int[pieces + 1];
            cuts[pieces] = size;
            for (int i = 1; i < pieces; i++) {
                cuts[i] = random.nextInt(size + 1);
            }
            Arrays.sort(cuts, 1, pieces);
            for (int i = 0; i < pieces; i++) {
                int len = cuts[i + 1] - cuts[i];
                stream.write(RecordParser.markOf(len, i == pieces - 1).array());
                stream.write(rec, cuts[i], len);
            }
            boolean streamed = cuts[1] - cuts[0] > CallFraming.HEAD;
            boolean pass = !streamed || random.nextInt(4) != 0; // the policy drops a quarter of the large ones
            if (streamed) {
                passes.add(pass);
            }
            if (pass) {
                expected.add(rec);
            }
        }
        ByteArrayOutputStream backend = new ByteArrayOutputStream();
        int[] heads = {0};
        CallFraming framing = new CallFraming(1 << 20, new CallFraming.Records() {
            @Override
            public void record(byte[] rec) {
                backend.writeBytes(RecordParser.framed(rec).array());
            }

            @Override
            public boolean head(byte[] head, int fragmentLength, boolean last) {
                assertEquals(CallFraming.HEAD, head.length);
                boolean pass = passes.get(heads[0]++);
                if (pass) {
                    backend.writeBytes(RecordParser.markOf(fragmentLength, last).array());
                    backend.writeBytes(head);
                }
                return pass;
            }

            @Override
            public void body(ByteBuffer bytes) {
                byte[] b = new byte[bytes.remaining()];
                bytes.get(b);
                backend.writeBytes(b);
            }
        });
        byte[] all = stream.toByteArray();
        // read as a socket would hand it over: cut anywhere, into a buffer reused for the next read
        ByteBuffer read = ByteBuffer.allocate(1 << 16);
        for (int at = 0; at < all.length;) {
            int n = Math.min(all.length - at, 1 + random.nextInt(random.nextBoolean() ? 64 : 1 << 16));
            read.clear();
            read.put(all, at, n).flip();
            framing.feed(read);
            assertFalse(read.hasRemaining());
            Arrays.fill(read.array(), (byte) 0x5a); // what the framing handed on must not be read again from here
            at += n;
        }
        assertFalse(framing.midRecord());
        assertEquals(passes.size(), heads[0], "every large record's head went to the policy");
        List<byte[]> got = new ArrayList<>();
        RecordParser parser = new RecordParser(1 << 20);
        parser.feed(ByteBuffer.wrap(backend.toByteArray()), got::add);
        assertEquals(expected.size(), got.size());
        for (int i = 0; i < expected.size(); i++) {
            assertTrue(Arrays.equals(expected.get(i), got.get(i)), "record " + i + " of " + expected.size());
        }
    }
}
