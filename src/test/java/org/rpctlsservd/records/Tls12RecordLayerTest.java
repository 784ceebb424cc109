package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TLS 1.2 AEAD records: what our layer seals is what RFC 5246 6.2.3.3 with RFC 5288 / RFC 7905
 * says, checked with the JDK's cipher driven by the test's own reading of the RFCs (and the other
 * way round); round trips in heap and direct buffers, in place; and what a peer may not send,
 * each refused with its alert and nothing of it handed on.
 */
class Tls12RecordLayerTest {
    static byte[] filled(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed * 37 + i * 11);
        }
        return b;
    }

    /** The server's and the client's layer of one session, from the given sequence numbers (client to server, server to client). */
    static Tls12RecordLayer[] pair(Tls12Suite suite, long c2s, long s2c) {
        byte[] ck = filled(suite.keyLength, 1);
        byte[] sk = filled(suite.keyLength, 2);
        byte[] civ = filled(suite.fixedIvLength, 3);
        byte[] siv = filled(suite.fixedIvLength, 4);
        return new Tls12RecordLayer[] {
            Tls12RecordLayer.of(Tls13RecordLayer.Side.SERVER, new Tls12Keys(suite, ck, civ, c2s, sk, siv, s2c)),
            Tls12RecordLayer.of(Tls13RecordLayer.Side.CLIENT, new Tls12Keys(suite, sk, siv, s2c, ck, civ, c2s)),
        };
    }

    /** RFC 5246 6.2.3.3 with RFC 5288 (GCM) or RFC 7905 (ChaCha20-Poly1305), read from the RFCs for this test. */
    static Cipher rfcCipher(Tls12Suite suite, byte[] key, byte[] iv, long seq, byte[] explicit, int type, int length, int mode)
            throws Exception {
        byte[] nonce = new byte[12];
        boolean gcm = suite.explicitNonceLength == 8;
        if (gcm) {
            System.arraycopy(iv, 0, nonce, 0, 4);
            System.arraycopy(explicit, 0, nonce, 4, 8);
        } else {
            ByteBuffer.wrap(nonce, 4, 8).putLong(seq);
            for (int i = 0; i < 12; i++) {
                nonce[i] ^= iv[i];
            }
        }
        Cipher c = Cipher.getInstance(gcm ? "AES/GCM/NoPadding" : "ChaCha20-Poly1305");
        c.init(mode, new SecretKeySpec(key, gcm ? "AES" : "ChaCha20"), gcm ? new GCMParameterSpec(128, nonce) : new IvParameterSpec(nonce));
        c.updateAAD(ByteBuffer.allocate(13).putLong(seq).put((byte) type).put((byte) 3).put((byte) 3).putShort((short) length).array());
        return c;
    }

    @ParameterizedTest
    @EnumSource(Tls12Suite.class)
    void whatWeSealIsWhatTheRfcsSayAndWeOpenWhatTheySay(Tls12Suite suite) throws Exception {
        Tls12RecordLayer[] p = pair(suite, 1, 7); // the Finished went under sequence 0 in each direction; the server sent 6 more
        byte[] plain = filled(1000, 9);
        ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        p[0].seal(ByteBuffer.wrap(plain), out);
        byte[] rec = Wire.bytes(out);
        int e = suite.explicitNonceLength;
        assertEquals(5 + e + plain.length + 16, rec.length);
        assertEquals(p[0].sealedLength(plain.length), rec.length);
        assertArrayEquals(new byte[] {23, 3, 3, (byte) ((rec.length - 5) >> 8), (byte) (rec.length - 5)}, Arrays.copyOf(rec, 5));
        byte[] explicit = Arrays.copyOfRange(rec, 5, 5 + e);
        if (e > 0) {
            assertArrayEquals(ByteBuffer.allocate(8).putLong(7).array(), explicit, "RFC 5288's explicit nonce: the sequence number");
        }
        Cipher jdk = rfcCipher(suite, filled(suite.keyLength, 2), filled(suite.fixedIvLength, 4), 7, explicit, 23, plain.length,
                Cipher.DECRYPT_MODE);
        assertArrayEquals(plain, jdk.doFinal(rec, 5 + e, rec.length - 5 - e));

        // the other way: a record the JDK makes by the RFCs (an explicit nonce of its own choosing), at the client's sequence number 1
        byte[] up = filled(3000, 10);
        byte[] chosen = e > 0 ? new byte[] {9, 8, 7, 6, 5, 4, 3, 2} : new byte[0];
        byte[] body = rfcCipher(suite, filled(suite.keyLength, 1), filled(suite.fixedIvLength, 3), 1, chosen, 23, up.length,
                Cipher.ENCRYPT_MODE).doFinal(up);
        int len = e + body.length;
        byte[] wire = Rfc8448Test.concat(new byte[] {23, 3, 3, (byte) (len >> 8), (byte) len}, chosen, body);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[0], wire, got);
        assertArrayEquals(up, got.data.toByteArray());
        // and the sequence number is what made it pass: the same record again is refused
        TlsAlertException replay = assertThrows(TlsAlertException.class, () -> Wire.feed(p[0], wire, got));
        assertEquals(BAD_RECORD_MAC, replay.description());
    }

    @ParameterizedTest
    @EnumSource(Tls12Suite.class)
    void roundTripsHeapAndDirectFullRecordsAndInPlace(Tls12Suite suite) throws Exception {
        for (boolean direct : new boolean[] {false, true}) {
            Tls12RecordLayer[] p = pair(suite, 0, 0);
            byte[] plain = filled(3 * RecordLayer.MAX_PLAINTEXT + 123, 5);
            ByteBuffer out = direct ? ByteBuffer.allocateDirect(4 * RecordLayer.MAX_RECORD) : ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD);
            assertEquals(4, p[1].seal(direct ? Wire.direct(plain) : ByteBuffer.wrap(plain), out));
            assertEquals(p[1].sealedLength(plain.length), out.position());
            // in place: the data put at position + HEADER, sealed where it lies
            byte[] more = filled(5000, 6);
            out.put(out.position() + RecordLayer.HEADER, more);
            p[1].sealInPlace(out, more.length);
            Wire.Recorder got = new Wire.Recorder();
            ByteBuffer in = direct ? ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD) : ByteBuffer.allocate(RecordLayer.MAX_RECORD);
            Wire.feed(p[0], in, Wire.bytes(out), i -> 1000 + i * 777, got);
            assertArrayEquals(Rfc8448Test.concat(plain, more), got.data.toByteArray(), "direct " + direct);
            assertEquals(List.of("data 16384", "data 16384", "data 16384", "data 123", "data 5000"), got.events);
        }
    }

    /** As RecordLayerTest's: after {@code quiet()} the next records make their ciphers again and are the same bytes. */
    @ParameterizedTest
    @EnumSource(Tls12Suite.class)
    void aQuietSessionGivesUpItsCipherObjectsAndGoesOnAsBefore(Tls12Suite suite) throws Exception {
        Tls12RecordLayer[] quiet = pair(suite, 5, 9);
        Tls12RecordLayer[] busy = pair(suite, 5, 9);
        byte[] plain = filled(2 * RecordLayer.MAX_PLAINTEXT + 7, 8);
        ByteBuffer before = ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD);
        quiet[1].seal(ByteBuffer.wrap(plain), before);
        busy[1].seal(ByteBuffer.wrap(plain), ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD));
        Wire.feed(quiet[0], Wire.bytes(before), new Wire.Recorder());
        Wire.feed(busy[0], Wire.bytes(before), new Wire.Recorder());
        quiet[0].quiet();
        quiet[1].quiet();
        assertFalse(quiet[0].readCipher().holdsCipher() || quiet[1].writeCipher().holdsCipher(), "no cipher objects held");
        ByteBuffer after = ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD);
        ByteBuffer busyAfter = ByteBuffer.allocate(4 * RecordLayer.MAX_RECORD);
        quiet[1].seal(ByteBuffer.wrap(plain), after);
        busy[1].seal(ByteBuffer.wrap(plain), busyAfter);
        assertArrayEquals(Wire.bytes(busyAfter), Wire.bytes(after), "the records sealed after the quiet are the same bytes");
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(quiet[0], Wire.bytes(after), got);
        assertArrayEquals(plain, got.data.toByteArray());
        assertTrue(quiet[0].readCipher().holdsCipher());
    }

    @Test
    void closeNotifyAndWarningsAndFatalAlerts() throws Exception {
        Tls12RecordLayer[] p = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        p[1].sealRaw(Tls12RecordLayer.ALERT, ByteBuffer.wrap(new byte[] {1, 100}), out); // no_renegotiation, a warning
        p[1].seal(ByteBuffer.wrap(new byte[] {1, 2, 3}), out);
        p[1].sealAlert(TlsAlertException.CLOSE_NOTIFY, out);
        assertTrue(p[1].outboundClosed());
        assertThrows(IllegalStateException.class, () -> p[1].seal(ByteBuffer.wrap(new byte[1]), ByteBuffer.allocate(100)));
        byte[] wire = Rfc8448Test.concat(Wire.bytes(out), new byte[] {23, 3, 3, 0, 1, 0}); // garbage after the close: ignored
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[0], wire, got);
        assertEquals(List.of("alert alert 100", "data 3", "close_notify"), got.events);
        assertTrue(p[0].inboundClosed());
        assertFalse(p[0].outboundClosed(), "we may still send");
        ByteBuffer answer = ByteBuffer.allocate(100);
        p[0].sealAlert(TlsAlertException.CLOSE_NOTIFY, answer);
        assertEquals(5 + 8 + 2 + 16, answer.position(), "a GCM alert record");

        Tls12RecordLayer[] q = pair(Tls12Suite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0, 0);
        out.clear();
        q[1].sealAlert(TlsAlertException.BAD_RECORD_MAC, out);
        Wire.Recorder fatal = new Wire.Recorder();
        Wire.feed(q[0], Wire.bytes(out), fatal);
        assertEquals(List.of("alert bad_record_mac fatal"), fatal.events);
        assertTrue(q[0].inboundClosed());
    }

    @Test
    void noKeyUpdateInTls12() {
        Tls12RecordLayer[] p = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 0, 0);
        assertThrows(UnsupportedOperationException.class, () -> p[0].sealKeyUpdate(false, ByteBuffer.allocate(100)));
        ByteBuffer out = ByteBuffer.allocate(100);
        p[0].sealPending(out);
        assertEquals(0, out.position());
        assertFalse(p[0].keyUpdateOwed());
    }

    @Test
    void aClientIgnoresHelloRequestsAServerRefusesAnyHandshakeMessage() throws Exception {
        Tls12RecordLayer[] p = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        p[0].sealRaw(Tls12RecordLayer.HANDSHAKE, ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), out); // HelloRequest
        p[0].seal(ByteBuffer.wrap(new byte[] {42}), out);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[1], Wire.bytes(out), got);
        assertEquals(List.of("data 1"), got.events, "the client ignored the HelloRequest");

        out.clear();
        p[1].sealRaw(Tls12RecordLayer.HANDSHAKE, ByteBuffer.wrap(new byte[] {1, 0, 0, 2, 3, 3}), out); // the start of a ClientHello
        refused(p[0], UNEXPECTED_MESSAGE, Wire.bytes(out));
    }

    // ---------------------------------------------------------------- refusals, at the server

    private final Tls12RecordLayer[] pair = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
    private final Tls12RecordLayer server = pair[0];
    private final Tls12RecordLayer client = pair[1];

    private byte[] records(int type, byte[]... contents) {
        ByteBuffer out = ByteBuffer.allocate(contents.length * RecordLayer.MAX_RECORD);
        for (byte[] c : contents) {
            client.sealRaw(type, ByteBuffer.wrap(c), out);
        }
        return Wire.bytes(out);
    }

    /** Feeds the bytes to {@code layer}; asserts the alert, what was handed on, and that the layer stays shut. */
    private static void refused(Tls12RecordLayer layer, int alert, byte[] stream, String... delivered) {
        Wire.Recorder got = new Wire.Recorder();
        TlsAlertException e = assertThrows(TlsAlertException.class, () -> Wire.feed(layer, stream, got));
        assertEquals(alert, e.description(), e.getMessage());
        assertEquals(List.of(delivered), got.events);
        assertTrue(layer.inboundClosed());
        TlsAlertException again = assertThrows(TlsAlertException.class, () -> layer.open(ByteBuffer.allocate(RecordLayer.MAX_RECORD), got));
        assertSame(e, again);
    }

    @Test
    void aForgedTagIsBadRecordMacAndTheGoodRecordBeforeItIsDelivered() {
        byte[] two = records(23, new byte[] {1, 2, 3}, new byte[] {4, 5, 6});
        two[two.length - 1] ^= 1;
        refused(server, BAD_RECORD_MAC, two, "data 3");
    }

    @Test
    void aRecordTooShortForItsNonceAndTagIsBadRecordMac() {
        refused(server, BAD_RECORD_MAC, Rfc8448Test.concat(new byte[] {23, 3, 3, 0, 23}, new byte[23]));
    }

    @Test
    void aRecordLongerThanTheSuiteMakesIsRecordOverflowFromItsHeader() {
        int longest = RecordLayer.MAX_PLAINTEXT + 8 + 16;
        refused(server, RECORD_OVERFLOW, new byte[] {23, 3, 3, (byte) ((longest + 1) >> 8), (byte) (longest + 1)});
        Tls12RecordLayer[] q = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        ByteBuffer out = ByteBuffer.allocate(2 * RecordLayer.MAX_RECORD);
        q[1].sealRaw(23, ByteBuffer.wrap(new byte[RecordLayer.MAX_PLAINTEXT]), out);
        Wire.Recorder got = new Wire.Recorder();
        assertThrows(TlsAlertException.class, () -> Wire.feed(server, Wire.bytes(out), got)); // (server is shut already)
        Wire.Recorder full = new Wire.Recorder();
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> Wire.feed(q[0], Wire.bytes(out), full));
        assertEquals(List.of("data 16384"), full.events, "the longest legal record passes");
    }

    @Test
    void aClientHelloAfterTheHandshakeIsUnexpectedMessage() {
        refused(server, UNEXPECTED_MESSAGE, Rfc8448Test.concat(records(23, new byte[] {7}), records(22, new byte[] {1, 0, 0, 0})), "data 1");
    }

    @Test
    void aChangeCipherSpecAnEmptyHandshakeAndAnUnknownTypeAreUnexpectedMessage() {
        refused(server, UNEXPECTED_MESSAGE, records(20, new byte[] {1}));
        Tls12RecordLayer[] q = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        ByteBuffer out = ByteBuffer.allocate(100);
        q[1].sealRaw(22, ByteBuffer.allocate(0), out);
        refused(q[0], UNEXPECTED_MESSAGE, Wire.bytes(out));
        Tls12RecordLayer[] r = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        refused(r[0], UNEXPECTED_MESSAGE, Rfc8448Test.concat(new byte[] {24, 3, 3, 0, 30}, new byte[30]));
    }

    @Test
    void aBadAlertRecordIsRefused() {
        refused(server, DECODE_ERROR, records(21, new byte[] {2, 20, 0}));
        Tls12RecordLayer[] q = pair(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0, 0);
        ByteBuffer out = ByteBuffer.allocate(100);
        q[1].sealRaw(21, ByteBuffer.wrap(new byte[] {3, 0}), out);
        refused(q[0], ILLEGAL_PARAMETER, Wire.bytes(out));
    }

    @Test
    void anotherVersionInTheHeaderIsProtocolVersion() {
        byte[] r = records(23, new byte[] {1, 2, 3});
        r[2] = 1; // TLS 1.0's
        refused(server, Tls12RecordLayer.PROTOCOL_VERSION, r);
    }
}
