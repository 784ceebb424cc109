package org.rpctlsservd.records;

import java.util.Arrays;

/**
 * What a finished TLS 1.2 handshake hands the record layer: the suite, each direction's write key
 * and implicit iv from the key block (RFC 5246 section 6.3), and the sequence number of the next
 * record in each direction (the records the handshake engine already protected under them: the
 * Finished, and any application data that came with it). The record layer copies the keys; the
 * owner wipes these with {@link #wipe}.
 */
public record Tls12Keys(Tls12Suite suite, byte[] readKey, byte[] readIv, long readSequence, byte[] writeKey, byte[] writeIv,
        long writeSequence) {
    public Tls12Keys {
        if (readKey.length != suite.keyLength || writeKey.length != suite.keyLength) {
            throw new IllegalArgumentException("keys of " + suite + " have " + suite.keyLength + " bytes");
        }
        if (readIv.length != suite.fixedIvLength || writeIv.length != suite.fixedIvLength) {
            throw new IllegalArgumentException("implicit ivs of " + suite + " have " + suite.fixedIvLength + " bytes");
        }
        if (readSequence < 0 || writeSequence < 0) {
            throw new IllegalArgumentException("a sequence number below 0");
        }
    }

    /** Zeroes the keys and ivs, once the taker has what it needs of them. */
    public void wipe() {
        Arrays.fill(readKey, (byte) 0);
        Arrays.fill(readIv, (byte) 0);
        Arrays.fill(writeKey, (byte) 0);
        Arrays.fill(writeIv, (byte) 0);
    }

    @Override
    public String toString() {
        return "Tls12Keys[suite=" + suite + ", readSequence=" + readSequence + ", writeSequence=" + writeSequence + "]"; // never the keys
    }
}
