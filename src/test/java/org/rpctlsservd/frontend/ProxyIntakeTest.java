package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.proxy.ProxyHeader;

/** The PROXY stage of a client connection, from bytes alone: no socket, no timer. */
class ProxyIntakeTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.7", 40123);
    private static final InetSocketAddress US = new InetSocketAddress("198.51.100.1", 2049);
    private static final byte[] RPC = {(byte) 0x80, 0, 0, 40, 1, 2, 3, 4};

    private static byte[] join(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static byte[] remaining(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Test
    void aTrustedPeersHeaderMayComeByteByByteAndWhatFollowsIsTheClients() {
        ProxyIntake intake = new ProxyIntake(true);
        assertTrue(intake.expectsHeader());
        assertEquals(ProxyIntake.Verdict.MORE, intake.offer(ByteBuffer.allocate(0)), "nothing yet: wait");
        byte[] all = join(ProxyHeader.v2(CLIENT, US, null), RPC);
        for (int i = 0; i < 15; i++) {
            assertEquals(ProxyIntake.Verdict.MORE, intake.offer(ByteBuffer.wrap(all, i, 1)), "byte " + i);
        }
        ByteBuffer last = ByteBuffer.wrap(all, 15, all.length - 15);
        assertEquals(ProxyIntake.Verdict.DONE, intake.offer(last));
        assertEquals(CLIENT, intake.header().source());
        assertEquals(US, intake.header().destination());
        byte[] after = join(remaining(intake.rest()), remaining(last));
        assertEquals(Arrays.toString(RPC), Arrays.toString(after), "the client's first record, whole, in order");
    }

    @Test
    void aVersionOneHeaderWithTheClientsFirstBytesInTheSameRead() {
        ProxyIntake intake = new ProxyIntake(true);
        ByteBuffer buf = ByteBuffer.wrap(join(ProxyHeader.v1(CLIENT, US), RPC));
        assertEquals(ProxyIntake.Verdict.DONE, intake.offer(buf));
        assertEquals(CLIENT, intake.header().source());
        assertEquals(Arrays.toString(RPC), Arrays.toString(join(remaining(intake.rest()), remaining(buf))));
    }

    @Test
    void aTrustedPeerThatSendsAnythingElseIsRefusedWithTheReason() {
        ProxyIntake rpc = new ProxyIntake(true);
        assertEquals(ProxyIntake.Verdict.BAD, rpc.offer(ByteBuffer.wrap(RPC)));
        assertEquals("no PROXY protocol signature", rpc.problem());
        ProxyIntake broken = new ProxyIntake(true);
        assertEquals(ProxyIntake.Verdict.BAD, broken.offer(ByteBuffer.wrap("PROXY TCP9 a b 1 2\r\n".getBytes(StandardCharsets.US_ASCII))));
        assertTrue(broken.problem().contains("version 1"), broken.problem());
        assertNull(broken.header());
        ProxyIntake noLiteral = new ProxyIntake(true);
        assertEquals(ProxyIntake.Verdict.BAD, noLiteral.offer(ByteBuffer.wrap("PROXY TCP4 999.999.999.1 127.0.0.1 40000 2049\r\n"
                .getBytes(StandardCharsets.US_ASCII))), "refused as it is, never looked up");
        assertEquals("bad address in version 1 header: 999.999.999.1 (TCP4, a number above 255)", noLiteral.problem());
    }

    @Test
    void anUntrustedPeerIsNotBelievedAndOtherwiseLeftAlone() {
        assertTrue(!new ProxyIntake(false).expectsHeader());
        assertEquals(ProxyIntake.Verdict.NOT_BELIEVED, new ProxyIntake(false).offer(ByteBuffer.wrap(ProxyHeader.v1(CLIENT, US))));
        assertEquals(ProxyIntake.Verdict.NOT_BELIEVED, new ProxyIntake(false).offer(ByteBuffer.wrap(new byte[] {'P', 'R'})),
                "even the first two bytes of a signature");
        ByteBuffer own = ByteBuffer.wrap(RPC);
        assertEquals(ProxyIntake.Verdict.PASS, new ProxyIntake(false).offer(own));
        assertEquals(RPC.length, own.remaining(), "the client's bytes are not taken");
    }
}
