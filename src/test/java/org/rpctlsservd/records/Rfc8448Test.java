package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.rpctlsservd.records.Wire.bytes;
import static org.rpctlsservd.records.Wire.hex;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Known answers from RFC 8448 section 3 (simple 1-RTT, TLS_AES_128_GCM_SHA256): the application
 * traffic secrets, the keys and ivs they give, and the protected records of the trace after the
 * handshake, opened and sealed byte for byte, in both roles.
 */
class Rfc8448Test {
    static final byte[] CLIENT_AP_SECRET = hex("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52"
            + "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5");
    static final byte[] SERVER_AP_SECRET = hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32"
            + "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");

    /** {server} send handshake record: the NewSessionTicket, the first record under the server's application secret. */
    static final byte[] SERVER_TICKET = hex("17 03 03 00 de 3a 6b 8f 90 41 4a 97"
            + "d6 95 9c 34 87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4 1d"
            + "6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a 01 59 40 25 2f 55"
            + "71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1 70 ad 3c"
            + "73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0"
            + "9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13"
            + "06 46 15 13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84"
            + "00 25 db 2f 0a 77 f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86"
            + "51 9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 50 db 4d 02"
            + "3e 70 e9 52 ca 49 fe 51 37 12 1c 74 bc 26 97 68 7e 24 87 46 d6"
            + "df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b"
            + "f1 59 85 68 4f");
    /** {client} send application_data record: 50 bytes 00..31. */
    static final byte[] CLIENT_DATA = hex("17 03 03 00 43 a2 3f 70 54 b6 2c 94"
            + "d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b"
            + "98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62"
            + "92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4");
    /** {server} send application_data record: the same 50 bytes, the server's second record. */
    static final byte[] SERVER_DATA = hex("17 03 03 00 43 2e 93 7e 11 ef 4a c7"
            + "40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3"
            + "0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5"
            + "f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d");
    /** {client} send alert record: close_notify. */
    static final byte[] CLIENT_CLOSE = hex("17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3");
    /** {server} send alert record: close_notify. */
    static final byte[] SERVER_CLOSE = hex("17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 cf be 7e fa 7a 88 64 a9");

    static byte[] payload() {
        byte[] p = new byte[50];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) i;
        }
        return p;
    }

    static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Test
    void keyAndIvFromEachApplicationTrafficSecret() {
        RecordCipher server = new RecordCipher(Tls13Suite.TLS_AES_128_GCM_SHA256, SERVER_AP_SECRET, 0, true);
        assertEquals("9f02283b6c9c07efc26bb9f2ac92e356", hex(server.key()));
        assertEquals("cf782b88dd83549aadf1e984", hex(server.iv()));
        RecordCipher client = new RecordCipher(Tls13Suite.TLS_AES_128_GCM_SHA256, CLIENT_AP_SECRET, 0, true);
        assertEquals("17422dda596ed5d9acd890e3c63f5051", hex(client.key()));
        assertEquals("5b78923dee08579033e523d9", hex(client.iv()));
    }

    @Test
    void serverOpensTheClientsRecordsAndSealsItsOwnByteForByte() throws Exception {
        // Bouncy Castle sent the NewSessionTicket: the hand-over starts the server's sending side at record 1
        Tls13RecordLayer server = Tls13RecordLayer.of(Tls13RecordLayer.Side.SERVER,
                new TrafficSecrets(Tls13Suite.TLS_AES_128_GCM_SHA256, CLIENT_AP_SECRET, 0, SERVER_AP_SECRET, 1));
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(server, concat(CLIENT_DATA, CLIENT_CLOSE), got);
        assertArrayEquals(payload(), got.data.toByteArray());
        assertEquals(List.of("data 50", "close_notify"), got.events);

        ByteBuffer out = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        assertEquals(1, server.seal(Wire.direct(payload()), out));
        assertArrayEquals(SERVER_DATA, bytes(out));
        out.clear();
        server.sealAlert(TlsAlertException.CLOSE_NOTIFY, out);
        assertArrayEquals(SERVER_CLOSE, bytes(out));
    }

    @Test
    void clientOpensTheServersRecordsIgnoringTheTicketAndSealsItsOwnByteForByte() throws Exception {
        Tls13RecordLayer client = Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT,
                new TrafficSecrets(Tls13Suite.TLS_AES_128_GCM_SHA256, SERVER_AP_SECRET, 0, CLIENT_AP_SECRET, 0));
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(client, concat(SERVER_TICKET, SERVER_DATA, SERVER_CLOSE), got);
        assertArrayEquals(payload(), got.data.toByteArray());
        assertEquals(List.of("data 50", "close_notify"), got.events);

        ByteBuffer out = ByteBuffer.allocateDirect(2 * RecordLayer.MAX_RECORD);
        ByteBuffer data = ByteBuffer.allocateDirect(RecordLayer.MAX_RECORD);
        data.position(RecordLayer.HEADER);
        data.put(payload());
        data.position(0);
        client.sealInPlace(data, 50); // the same record, sealed where its plaintext was put
        assertArrayEquals(CLIENT_DATA, bytes(data));
        client.sealAlert(TlsAlertException.CLOSE_NOTIFY, out);
        assertArrayEquals(CLIENT_CLOSE, bytes(out));
    }

    @Test
    void readingFromTheHandOverSequenceNumber() throws Exception {
        // the server's data record is its second: opened from sequence 1 without the ticket before it
        Tls13RecordLayer client = Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT,
                new TrafficSecrets(Tls13Suite.TLS_AES_128_GCM_SHA256, SERVER_AP_SECRET, 1, CLIENT_AP_SECRET, 0));
        Wire.Recorder got = new Wire.Recorder();
        Wire.feed(client, SERVER_DATA, got);
        assertArrayEquals(payload(), got.data.toByteArray());
        // and from 0 it is refused: the nonce is wrong
        Tls13RecordLayer fromZero = Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT,
                new TrafficSecrets(Tls13Suite.TLS_AES_128_GCM_SHA256, SERVER_AP_SECRET, 0, CLIENT_AP_SECRET, 0));
        TlsAlertException e = assertThrows(TlsAlertException.class, () -> Wire.feed(fromZero, SERVER_DATA, new Wire.Recorder()));
        assertEquals(TlsAlertException.BAD_RECORD_MAC, e.description());
    }

    @Test
    void aServerRefusesANewSessionTicket() {
        // the trace's ticket record, as if a client had sent it under the same secret
        Tls13RecordLayer server = Tls13RecordLayer.of(Tls13RecordLayer.Side.SERVER,
                new TrafficSecrets(Tls13Suite.TLS_AES_128_GCM_SHA256, SERVER_AP_SECRET, 0, CLIENT_AP_SECRET, 0));
        Wire.Recorder got = new Wire.Recorder();
        TlsAlertException e = assertThrows(TlsAlertException.class, () -> Wire.feed(server, concat(SERVER_TICKET, SERVER_DATA), got));
        assertEquals(TlsAlertException.UNEXPECTED_MESSAGE, e.description());
        assertEquals(List.of(), got.events);
    }
}
