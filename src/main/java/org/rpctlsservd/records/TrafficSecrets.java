package org.rpctlsservd.records;

/**
 * What a finished TLS 1.3 handshake hands the record layer: the suite, each direction's current
 * application traffic secret, and the sequence number of the next record in each direction (the
 * records the handshake engine already protected under these secrets, a NewSessionTicket for
 * one). The record layer copies the secrets; the caller should wipe its own.
 */
public record TrafficSecrets(Tls13Suite suite, byte[] readSecret, long readSequence, byte[] writeSecret, long writeSequence) {
    public TrafficSecrets {
        if (readSecret.length != suite.hashLength || writeSecret.length != suite.hashLength) {
            throw new IllegalArgumentException("traffic secrets of " + suite + " have " + suite.hashLength + " bytes");
        }
    }
}
