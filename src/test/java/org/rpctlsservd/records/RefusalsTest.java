package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rpctlsservd.records.TlsAlertException.BAD_RECORD_MAC;
import static org.rpctlsservd.records.TlsAlertException.DECODE_ERROR;
import static org.rpctlsservd.records.TlsAlertException.ILLEGAL_PARAMETER;
import static org.rpctlsservd.records.TlsAlertException.RECORD_OVERFLOW;
import static org.rpctlsservd.records.TlsAlertException.UNEXPECTED_MESSAGE;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a peer may not send after the handshake, each refused with its alert (RFC 8446 sections 5
 * and 6), with nothing of the refused record handed on and the layer refusing everything after.
 * The good record before a bad one in the same read is delivered: it was authentic.
 */
class RefusalsTest {
    private final Tls13RecordLayer[] pair = Wire.pair(Tls13Suite.TLS_AES_128_GCM_SHA256, secret(1), secret(2), Long.MAX_VALUE);
    private final Tls13RecordLayer server = pair[0];
    private final Tls13RecordLayer client = pair[1];

    static byte[] secret(int seed) {
        return secret(seed, Tls13Suite.TLS_AES_128_GCM_SHA256);
    }

    static byte[] secret(int seed, Tls13Suite suite) {
        byte[] s = new byte[suite.hashLength];
        Arrays.fill(s, (byte) seed);
        return s;
    }

    /** The client's records of these application-data payloads. */
    private byte[] records(String... payloads) {
        ByteBuffer out = ByteBuffer.allocateDirect(payloads.length * RecordLayer.MAX_RECORD);
        for (String p : payloads) {
            client.seal(Wire.direct(p.getBytes(java.nio.charset.StandardCharsets.US_ASCII)), out);
        }
        return Wire.bytes(out);
    }

    /** One client record of this exact inner plaintext (content, type, padding). */
    private byte[] raw(String innerHex) {
        ByteBuffer out = ByteBuffer.allocateDirect(2 * RecordLayer.MAX_RECORD);
        client.sealRaw(Wire.direct(Wire.hex(innerHex)), out);
        return Wire.bytes(out);
    }

    private static byte[] concat(byte[]... parts) {
        return Rfc8448Test.concat(parts);
    }

    /** Feeds the bytes to the server; asserts the alert, what was handed on, and that the layer stays shut. */
    private void refused(int alert, byte[] stream, String... delivered) {
        Wire.Recorder got = new Wire.Recorder();
        TlsAlertException e = assertThrows(TlsAlertException.class, () -> Wire.feed(server, stream, got));
        assertEquals(TlsAlertException.name(alert), TlsAlertException.name(e.description()), e.getMessage());
        assertEquals(String.join("", delivered), got.data.toString(java.nio.charset.StandardCharsets.US_ASCII));
        assertTrue(server.inboundClosed());
        // a good record after the refusal is refused too, with the same alert
        TlsAlertException again = assertThrows(TlsAlertException.class, () -> Wire.feed(server, records("later"), got));
        assertSame(e, again);
        assertEquals(String.join("", delivered), got.data.toString(java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void aForgedCiphertextByte() {
        byte[] r = records("good", "forged");
        r[r.length - 20] ^= 0x40;
        refused(BAD_RECORD_MAC, r, "good");
    }

    @Test
    void aForgedHeaderIsAuthenticatedToo() {
        byte[] r = records("forged");
        r[1] = 3;
        r[2] = 1; // legacy_record_version is ignored but is additional data
        refused(BAD_RECORD_MAC, r);
    }

    @Test
    void aTruncatedRecord() {
        byte[] r = records("truncated record");
        int len = r.length - RecordLayer.HEADER - 1;
        byte[] cut = Arrays.copyOf(r, r.length - 1);
        cut[3] = (byte) (len >>> 8);
        cut[4] = (byte) len;
        refused(BAD_RECORD_MAC, cut);
    }

    @Test
    void aRecordTooShortForItsTag() {
        refused(BAD_RECORD_MAC, Wire.hex("17 03 03 00 0f 000102030405060708090a0b0c0d0e"));
    }

    @Test
    void aReplayedRecord() {
        byte[] r = records("once");
        refused(BAD_RECORD_MAC, concat(r, r), "once");
    }

    @Test
    void reorderedRecords() {
        byte[] r = records("first");
        byte[] s = records("second");
        refused(BAD_RECORD_MAC, concat(s, r));
    }

    @Test
    void aCiphertextLongerThanTheLimitIsRefusedFromItsHeader() {
        // the length alone: the body never comes, nor is it waited for
        int len = RecordLayer.MAX_CIPHERTEXT + 1;
        refused(RECORD_OVERFLOW, new byte[] {23, 3, 3, (byte) (len >>> 8), (byte) len});
    }

    @Test
    void aCiphertextAtTheLimitIsReadButItsInnerPlaintextIsTooLong() {
        // 2^14 + 240 bytes of inner plaintext: within the ciphertext bound, beyond 2^14 + 1
        byte[] inner = new byte[RecordLayer.MAX_CIPHERTEXT - RecordCipher.TAG];
        Arrays.fill(inner, (byte) 'x');
        inner[inner.length - 1] = 23;
        refused(RECORD_OVERFLOW, raw(Wire.hex(inner)));
    }

    @Test
    void applicationDataOfMoreThan2To14Bytes() {
        byte[] inner = new byte[RecordLayer.MAX_PLAINTEXT + 2];
        Arrays.fill(inner, (byte) 'x');
        inner[inner.length - 1] = 23;
        refused(RECORD_OVERFLOW, raw(Wire.hex(inner)));
    }

    @Test
    void aFullRecordWithPaddingUpToTheLimitIsTaken() throws Exception {
        // 2^14 bytes of data and the type: the largest inner plaintext; and 100 bytes + type + zeros to 2^14 + 1
        byte[] full = new byte[RecordLayer.MAX_PLAINTEXT + 1];
        Arrays.fill(full, (byte) 'y');
        full[full.length - 1] = 23;
        byte[] padded = new byte[RecordLayer.MAX_PLAINTEXT + 1];
        Arrays.fill(padded, 0, 100, (byte) 'z');
        padded[100] = 23;
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(server, concat(raw(Wire.hex(full)), raw(Wire.hex(padded))), got);
        assertEquals(List.of("data " + RecordLayer.MAX_PLAINTEXT, "data 100"), got.events);
    }

    @Test
    void noContentTypeOnlyPadding() {
        refused(UNEXPECTED_MESSAGE, raw("00 00 00 00"));
    }

    @Test
    void anEmptyInnerPlaintext() {
        refused(UNEXPECTED_MESSAGE, raw(""));
    }

    @Test
    void anUnknownInnerContentType() {
        refused(UNEXPECTED_MESSAGE, raw("01 02 03 63"));
    }

    @Test
    void aProtectedChangeCipherSpec() {
        refused(UNEXPECTED_MESSAGE, raw("01 14"));
    }

    @Test
    void anUnprotectedChangeCipherSpecAfterTheHandshake() {
        refused(UNEXPECTED_MESSAGE, concat(records("before"), Wire.hex("14 03 03 00 01 01")), "before");
    }

    @Test
    void anUnprotectedAlertOrHandshakeRecord() {
        refused(UNEXPECTED_MESSAGE, Wire.hex("15 03 03 00 02 02 28"));
    }

    @Test
    void aHandshakeMessageOtherThanKeyUpdateOrTicket() {
        // a ClientHello (1) and a Finished (20) after the handshake
        refused(UNEXPECTED_MESSAGE, raw("01 00 00 02 03 03 16"));
    }

    @Test
    void aFinishedAfterTheHandshake() {
        refused(UNEXPECTED_MESSAGE, raw("14 00 00 04 01 02 03 04 16"));
    }

    @Test
    void anEmptyHandshakeRecord() {
        refused(UNEXPECTED_MESSAGE, raw("16"));
    }

    @Test
    void aKeyUpdateSplitAcrossRecords() {
        refused(UNEXPECTED_MESSAGE, raw("18 00 00 16"));
    }

    @Test
    void aKeyUpdateNotAtTheEndOfItsRecord() {
        refused(UNEXPECTED_MESSAGE, raw("18 00 00 01 00 18 00 00 01 00 16"));
    }

    @Test
    void aKeyUpdateWithABadRequest() {
        refused(ILLEGAL_PARAMETER, raw("18 00 00 01 02 16"));
    }

    @Test
    void aKeyUpdateOfTheWrongLength() {
        refused(DECODE_ERROR, raw("18 00 00 02 00 00 16"));
    }

    @Test
    void anAlertOfTheWrongLength() {
        refused(DECODE_ERROR, raw("01 00 00 15"));
    }

    @Test
    void nothingOfARefusedRecordIsHandedOnEvenWithAGoodOneInTheSameRead() {
        byte[] good = records("good");
        byte[] bad = records("bad!");
        bad[bad.length - 1] ^= 1;
        byte[] alsoGood = records("never");
        refused(BAD_RECORD_MAC, concat(good, bad, alsoGood), "good");
    }

    @Test
    void afterARefusalTheAlertIsSealedAndNothingElse() throws Exception {
        byte[] r = records("x");
        r[r.length - 1] ^= 1;
        TlsAlertException e = assertThrows(TlsAlertException.class, () -> Wire.feed(server, r, new Wire.Recorder()));
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        server.sealAlert(e.description(), out);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(client, Wire.bytes(out), got);
        assertEquals(List.of("alert bad_record_mac fatal"), got.events);
        assertTrue(client.inboundClosed());
        assertThrows(IllegalStateException.class, () -> server.seal(Wire.direct(new byte[1]), out));
        assertArrayEquals(new byte[0], got.data.toByteArray());
    }
}
