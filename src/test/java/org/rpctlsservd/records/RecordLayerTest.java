package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** Framing from socket-sized reads, sealing for one write, KeyUpdate both ways, alerts and close. */
class RecordLayerTest {
    private static byte[] data(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static Tls13RecordLayer[] pair(Tls13Suite suite) {
        return Wire.pair(suite, RefusalsTest.secret(7, suite), RefusalsTest.secret(9, suite), Long.MAX_VALUE);
    }

    private static byte[] sealAll(RecordLayer layer, byte[] plain, int padding) {
        ByteBuffer out = ByteBuffer.allocateDirect(plain.length + 64 * RecordLayer.MAX_RECORD / 16 + RecordLayer.MAX_RECORD);
        ByteBuffer src = Wire.direct(plain);
        layer.seal(src, out, padding);
        assertFalse(src.hasRemaining());
        return Wire.bytes(out);
    }

    @ParameterizedTest
    @EnumSource(Tls13Suite.class)
    void eachSuiteCarriesAMegabyteInFullRecordsBothWays(Tls13Suite suite) throws Exception {
        Tls13RecordLayer[] p = pair(suite);
        byte[] plain = data(1 << 20, 1);
        byte[] wire = sealAll(p[0], plain, 0);
        assertEquals(plain.length + 64 * RecordLayer.OVERHEAD, wire.length, "64 full records");
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[1], ByteBuffer.allocateDirect(64 * 1024), wire, i -> 65536, got);
        assertArrayEquals(plain, got.data.toByteArray());
        Wire.Recorder back = new Wire.Recorder();
        Wire.feed(p[0], sealAll(p[1], plain, 0), back);
        assertArrayEquals(plain, back.data.toByteArray());
    }

    /**
     * A quiet session's ciphers give up their cipher objects and make them again for the next
     * record: the records after it (across a KeyUpdate too) are what they would have been, both ways.
     */
    @ParameterizedTest
    @EnumSource(Tls13Suite.class)
    void aQuietSessionGivesUpItsCipherObjectsAndGoesOnAsBefore(Tls13Suite suite) throws Exception {
        Tls13RecordLayer[] quiet = pair(suite);
        Tls13RecordLayer[] busy = pair(suite);
        byte[] first = data(20_000, 3);
        byte[] second = data(30_000, 4);
        for (Tls13RecordLayer[] p : List.of(quiet, busy)) {
            Wire.feed(p[1], sealAll(p[0], first, 0), new Wire.Recorder());
        }
        // the sender's: a cipher object, or the native sealing's context (AES-GCM between direct buffers)
        assertTrue((quiet[0].writeCipher().holdsCipher() || quiet[0].writeCipher().holdsNativeContext())
                && (quiet[1].readCipher().holdsCipher() || quiet[1].readCipher().holdsNativeContext()));
        quiet[0].quiet();
        quiet[1].quiet();
        assertEquals(0, quiet[0].ciphersHeld(), "the sender holds no cipher object nor context");
        assertEquals(0, quiet[1].ciphersHeld(), "the receiver holds no cipher object");
        ByteBuffer update = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        quiet[0].sealKeyUpdate(false, update);
        ByteBuffer busyUpdate = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        busy[0].sealKeyUpdate(false, busyUpdate);
        assertArrayEquals(Wire.bytes(busyUpdate), Wire.bytes(update), "the KeyUpdate sealed after the quiet is the same record");
        byte[] wire = sealAll(quiet[0], second, 0);
        assertArrayEquals(sealAll(busy[0], second, 0), wire, "the records sealed after it are the same bytes");
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(quiet[1], Rfc8448Test.concat(Wire.bytes(update), wire), got);
        assertArrayEquals(second, got.data.toByteArray());
        assertTrue(quiet[1].readCipher().holdsCipher() || quiet[1].readCipher().holdsNativeContext(), "the next record made its cipher again");
        Wire.Recorder back = new Wire.Recorder();
        Wire.feed(quiet[0], sealAll(quiet[1], first, 0), back);
        assertArrayEquals(first, back.data.toByteArray());
    }

    /**
     * A quiet session keeps alive none of the buffers it no longer reads from or last wrote into (a
     * loop's heap seal room, replaced by a direct one, stays otherwise as long as its idle sessions),
     * and goes on as before with the next ones.
     */
    @Test
    void aQuietSessionLetsGoOfTheBuffersItIsNotReadingFrom() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer room = ByteBuffer.allocate(RecordLayer.MAX_RECORD * 2);
        p[0].seal(ByteBuffer.wrap(data(100, 1)), room);
        ByteBuffer before = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        Wire.feed(p[1], before, Wire.bytes(room), i -> Integer.MAX_VALUE, new Wire.Recorder());
        ByteBuffer now = ByteBuffer.allocate(RecordLayer.MAX_RECORD);
        room.clear();
        p[0].seal(ByteBuffer.wrap(data(100, 2)), room);
        Wire.feed(p[1], now, Wire.bytes(room), i -> Integer.MAX_VALUE, new Wire.Recorder());
        java.lang.ref.WeakReference<ByteBuffer> sealedInto = new java.lang.ref.WeakReference<>(room);
        java.lang.ref.WeakReference<ByteBuffer> readBefore = new java.lang.ref.WeakReference<>(before);
        java.lang.ref.WeakReference<ByteBuffer> readLast = new java.lang.ref.WeakReference<>(now);
        room = null;
        before = null;
        now = null;
        p[0].quiet();
        p[1].quiet();
        for (int i = 0; i < 50 && (sealedInto.get() != null || readBefore.get() != null || readLast.get() != null); i++) {
            System.gc();
        }
        assertEquals(null, sealedInto.get(), "the buffer last sealed into is not kept by the quiet sender");
        assertEquals(null, readBefore.get(), "the buffer read before is not kept by the quiet receiver");
        assertEquals(null, readLast.get(), "nor the one read last, holding no partial record");
        byte[] after = data(40_000, 3);
        ByteBuffer out = ByteBuffer.allocate(after.length + 4 * RecordLayer.MAX_RECORD);
        p[0].seal(ByteBuffer.wrap(after), out);
        byte[] wire = Wire.bytes(out);
        // a partial record waiting behind a whole one in the buffer read last is kept through a quiet
        ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[1], in, java.util.Arrays.copyOf(wire, 20_000), i -> 20_000, got);
        p[1].quiet();
        Wire.feed(p[1], in, java.util.Arrays.copyOfRange(wire, 20_000, wire.length), i -> 20_000, got);
        assertArrayEquals(after, got.data.toByteArray());
    }

    /** When the provider choice changes (the daemon's background load done), each cipher makes its object anew at its next record. */
    @Test
    void aSessionMovesToANewProviderChoiceAtItsNextRecord() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        // heap buffers both ways: the JCE provider's way (direct ones take the native AES-GCM's, which has no provider to choose)
        ByteBuffer out = ByteBuffer.allocate(RecordLayer.MAX_RECORD * 3);
        p[0].seal(ByteBuffer.wrap(data(100, 1)), out);
        SealStagedPropertiesTest.opened(p[1], Wire.bytes(out));
        javax.crypto.Cipher sealing = p[0].writeCipher().cipherForTest();
        javax.crypto.Cipher opening = p[1].readCipher().cipherForTest();
        Providers.renewed();
        byte[] plain = data(30_000, 2);
        out.clear();
        p[0].seal(ByteBuffer.wrap(plain), out);
        assertArrayEquals(plain, SealStagedPropertiesTest.opened(p[1], Wire.bytes(out)));
        assertTrue(sealing != p[0].writeCipher().cipherForTest(), "a new sealing cipher object for the new choice");
        assertTrue(opening != p[1].readCipher().cipherForTest(), "a new opening cipher object for the new choice");
    }

    @Test
    void severalRecordsInOneReadAndARecordAByteAtATime() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        for (String s : new String[] {"one", "two", "three"}) {
            p[0].seal(Wire.direct(s.getBytes(StandardCharsets.US_ASCII)), out);
        }
        Wire.Recorder got = new Wire.Recorder();
        ByteBuffer in = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        Wire.feed(p[1], in, Wire.bytes(out), i -> Integer.MAX_VALUE, got);
        assertEquals(List.of("data 3", "data 3", "data 5"), got.events);
        assertEquals(0, in.position(), "all used: the buffer is cleared for the next read");

        out.clear();
        p[0].seal(Wire.direct("byte by byte".getBytes(StandardCharsets.US_ASCII)), out);
        Wire.feed(p[1], in, Wire.bytes(out), i -> 1, got);
        assertEquals("onetwothreebyte by byte", got.data.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void aPartialRecordMovesToTheFrontOnlyWhenItsRestWouldNotFit() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_256_GCM_SHA384);
        byte[] plain = data(200_000, 2);
        byte[] wire = sealAll(p[0], plain, 0);
        Wire.Recorder got = new Wire.Recorder();
        // reads of 7000 bytes into a buffer of exactly one largest record
        Wire.feed(p[1], ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD), wire, i -> 7000, got);
        assertArrayEquals(plain, got.data.toByteArray());
        assertTrue(p[1].compactedBytes() > 0 && p[1].compactedBytes() < wire.length / 2, "compacted " + p[1].compactedBytes());
        // in a buffer of four records, reads that end on record boundaries never move a byte
        Tls13RecordLayer[] q = pair(Tls13Suite.TLS_AES_256_GCM_SHA384);
        byte[] wire2 = sealAll(q[0], plain, 0);
        int record = RecordLayer.MAX_PLAINTEXT + RecordLayer.OVERHEAD;
        Wire.feed(q[1], ByteBuffer.allocateDirect(4 * RecordLayer.MAX_RECORD), wire2, i -> record, new Wire.Recorder());
        assertEquals(0, q[1].compactedBytes());
    }

    @Test
    void paddingAndZeroLengthRecordsAreTakenAndHidden() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_CHACHA20_POLY1305_SHA256);
        byte[] plain = data(40_000, 3);
        byte[] wire = sealAll(p[0], plain, 1000);
        // records of 2^14 - 1000 bytes of data, each padded by 1000 zeros
        assertEquals(plain.length + 3 * (RecordLayer.OVERHEAD + 1000), wire.length);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        p[0].sealInPlace(out, 0); // a zero-length application-data record (a traffic-analysis countermeasure)
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[1], Rfc8448Test.concat(wire, Wire.bytes(out)), got);
        assertArrayEquals(plain, got.data.toByteArray());
        assertEquals(3, got.events.size());
    }

    @Test
    void keyUpdateRequestedIsAnsweredBeforeTheNextDataAndBothSidesStayInStep() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        Tls13RecordLayer server = p[0];
        Tls13RecordLayer client = p[1];
        ByteBuffer out = ByteBuffer.allocateDirect(4 * RecordLayer.MAX_RECORD);
        client.seal(Wire.direct(new byte[] {1}), out);
        client.sealKeyUpdate(true, out);
        client.seal(Wire.direct(new byte[] {2}), out);
        byte[] oldKey = server.readCipher().key();
        Wire.Recorder atServer = new Wire.Recorder();
        Wire.feed(server, Wire.bytes(out), atServer);
        assertEquals(List.of("data 1", "keyUpdate true", "data 1"), atServer.events);
        assertFalse(java.util.Arrays.equals(oldKey, server.readCipher().key()), "the reading keys moved on");
        assertTrue(server.keyUpdateOwed());

        out.clear();
        byte[] sendingKey = server.writeCipher().key();
        server.seal(Wire.direct(new byte[] {3}), out);
        assertFalse(server.keyUpdateOwed());
        assertFalse(java.util.Arrays.equals(sendingKey, server.writeCipher().key()), "the sending keys moved on after it");
        assertEquals(2 * RecordLayer.OVERHEAD + 5 + 1, out.position(), "a KeyUpdate, then the data");
        Wire.Recorder atClient = new Wire.Recorder();
        Wire.feed(client, Wire.bytes(out), atClient);
        assertEquals(List.of("keyUpdate false", "data 1"), atClient.events);
        assertFalse(client.keyUpdateOwed(), "update_not_requested asks for nothing back");
    }

    @Test
    void severalRequestsBeforeWeSendAreAnsweredOnce() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        p[1].sealKeyUpdate(true, out);
        p[1].sealKeyUpdate(true, out);
        Wire.feed(p[0], Wire.bytes(out), new Wire.Recorder());
        out.clear();
        p[0].sealPending(out);
        p[0].sealPending(out);
        assertEquals(Tls13RecordLayer.KEY_UPDATE_RECORD, out.position());

        // owed again: in-place sealing waits for sealPending, so the KeyUpdate goes first on the wire
        out.clear();
        p[1].sealKeyUpdate(true, out);
        Wire.feed(p[0], Wire.bytes(out), new Wire.Recorder());
        assertThrows(IllegalStateException.class, () -> p[0].sealInPlace(ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD), 1));
    }

    @Test
    void aKeyIsMovedOnByItselfAtItsUsageLimit() throws Exception {
        Tls13RecordLayer[] p = Wire.pair(Tls13Suite.TLS_AES_128_GCM_SHA256, RefusalsTest.secret(1), RefusalsTest.secret(2), 3);
        byte[] plain = data(10 * 100, 4);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        for (int i = 0; i < 10; i++) {
            p[0].seal(Wire.direct(java.util.Arrays.copyOfRange(plain, 100 * i, 100 * i + 100)), out);
        }
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[1], Wire.bytes(out), got);
        assertArrayEquals(plain, got.data.toByteArray());
        assertEquals(3, got.events.stream().filter("keyUpdate false"::equals).count(), got.events.toString());
    }

    @Test
    void closeNotifyEndsReadingAndLaterBytesAreIgnored() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        p[1].seal(Wire.direct(new byte[] {1, 2}), out);
        p[1].sealAlert(TlsAlertException.CLOSE_NOTIFY, out);
        assertTrue(p[1].outboundClosed());
        byte[] wire = Wire.bytes(out);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[0], Rfc8448Test.concat(wire, "garbage after the close".getBytes(StandardCharsets.US_ASCII)), got);
        assertEquals(List.of("data 2", "close_notify"), got.events);
        assertTrue(p[0].inboundClosed());
        // we may still send (half-close), then close in turn
        out.clear();
        p[0].seal(Wire.direct(new byte[] {3}), out);
        p[0].sealAlert(TlsAlertException.CLOSE_NOTIFY, out);
        assertThrows(IllegalStateException.class, () -> p[0].seal(Wire.direct(new byte[] {4}), out));
    }

    @Test
    void userCanceledIsAWarningAndOtherAlertsAreFatal() throws Exception {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        p[1].sealAlert(TlsAlertException.USER_CANCELED, out);
        p[1].seal(Wire.direct(new byte[] {5}), out);
        p[1].sealAlert(TlsAlertException.INTERNAL_ERROR, out);
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(p[0], Wire.bytes(out), got);
        assertEquals(List.of("alert user_canceled", "data 1", "alert internal_error fatal"), got.events);
        assertTrue(p[0].inboundClosed());
    }

    @Test
    void sealingFillsTheBufferWithWholeRecordsForOneWrite() {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        ByteBuffer src = Wire.direct(data(100_000, 5));
        ByteBuffer out = ByteBuffer.allocateDirect(3 * RecordLayer.MAX_RECORD);
        assertEquals(3, p[0].seal(src, out));
        assertEquals(3 * (RecordLayer.MAX_PLAINTEXT + RecordLayer.OVERHEAD), out.position());
        assertEquals(100_000 - 3 * RecordLayer.MAX_PLAINTEXT, src.remaining());
        assertThrows(IllegalArgumentException.class, () -> p[0].seal(src, ByteBuffer.allocateDirect(100)));
    }

    @Test
    void aReadBufferSmallerThanARecordIsRefused() {
        Tls13RecordLayer[] p = pair(Tls13Suite.TLS_AES_128_GCM_SHA256);
        assertThrows(IllegalArgumentException.class, () -> p[0].open(ByteBuffer.allocateDirect(4096), new Wire.Recorder()));
    }
}
