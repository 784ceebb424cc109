package org.rpctlsservd.frontend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import org.rpctlsservd.rpc.RecordParser;

/**
 * The record framing from the client: its bytes (clear, or decrypted by {@link TlsRecords})
 * assembled into whole RPC records, each handed on to the call policy. Fed bytes, yields records.
 */
final class CallFraming {
    private final RecordParser parser;
    private final Consumer<byte[]> records;

    CallFraming(int maxRecord, Consumer<byte[]> records) {
        this.parser = new RecordParser(maxRecord);
        this.records = records;
    }

    /** Consumes everything {@code in} holds; each complete record goes on. */
    void feed(ByteBuffer in) throws IOException {
        parser.feed(in, records);
    }

    /** True when bytes of an unfinished record are held. */
    boolean midRecord() {
        return parser.midRecord();
    }

    /** Bytes held for an unfinished record, for the memory budget. */
    long footprint() {
        return parser.footprint();
    }
}
