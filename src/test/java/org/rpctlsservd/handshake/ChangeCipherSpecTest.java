package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which bytes the selector thread keeps back from the workers: lone ChangeCipherSpec records only. */
class ChangeCipherSpecTest {
    private static final byte[] CCS = {20, 3, 3, 0, 1, 1};
    private static final byte[] FINISHED_HEAD = {23, 3, 3, 0, 2, 9, 9};

    private static byte[] join(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    @Test
    void aLoneChangeCipherSpecIsKept() {
        assertTrue(HandshakeSteps.onlyChangeCipherSpec(CCS, CCS.length, 64));
        byte[] two = join(CCS, CCS);
        assertTrue(HandshakeSteps.onlyChangeCipherSpec(two, two.length, 64));
    }

    @Test
    void anythingElseGoesOnToTheEngine() {
        byte[] withFinished = join(CCS, FINISHED_HEAD);
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(withFinished, withFinished.length, 64), "the Finished came with it");
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(FINISHED_HEAD, FINISHED_HEAD.length, 64), "application data");
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(CCS, 4, 64), "half a header: the engine buffers it");
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(CCS, 5, 64), "a header without its body");
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(CCS, 0, 64), "nothing");
        byte[] many = join(CCS, CCS, CCS, CCS, CCS, CCS, CCS, CCS, CCS, CCS, CCS);
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(many, many.length, 64), "past the bound the engine decides (and refuses)");
        byte[] big = {20, 3, 3, (byte) 0xff, (byte) 0xff};
        assertFalse(HandshakeSteps.onlyChangeCipherSpec(big, big.length, 64), "a header promising more than is there");
    }
}
