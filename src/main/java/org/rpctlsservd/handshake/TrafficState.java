package org.rpctlsservd.handshake;

import java.util.Arrays;

/**
 * An established TLS 1.3 session's record state as Bouncy Castle left it, for a record layer
 * that takes over: the cipher suite (its IANA code, 0x1301-0x1303), each direction's current
 * application traffic secret (Hash.length bytes, copies) and the sequence number of the next
 * record under it (the records Bouncy Castle already protected or opened with it: application
 * data that came with the peer's Finished, a NewSessionTicket, a KeyUpdate's own record is the
 * old key's last). {@code keyUpdateOwed}: the peer's KeyUpdate came after our last one, so it
 * may have asked for an answer that Bouncy Castle sends only with its next application data
 * (it keeps whether it was asked to itself): the taker sends a KeyUpdate (update_not_requested)
 * before its first record, which RFC 8446 4.6.3 allows at any time.
 */
public record TrafficState(int cipherSuite, byte[] readSecret, long readSequence, byte[] writeSecret, long writeSequence,
        boolean keyUpdateOwed) {
    /** Zeroes both secrets, once the taker has what it needs of them. */
    public void wipe() {
        Arrays.fill(readSecret, (byte) 0);
        Arrays.fill(writeSecret, (byte) 0);
    }

    @Override
    public String toString() {
        return String.format("TrafficState[suite=0x%04x, readSequence=%d, writeSequence=%d, keyUpdateOwed=%b]", cipherSuite,
                readSequence, writeSequence, keyUpdateOwed); // never the secrets
    }
}
