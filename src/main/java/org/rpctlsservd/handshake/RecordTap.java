package org.rpctlsservd.handshake;

import java.io.IOException;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCrypto;
import org.bouncycastle.tls.crypto.TlsSecret;
import org.bouncycastle.tls.crypto.impl.TlsAEADCipherImpl;
import org.rpctlsservd.records.Tls12Keys;
import org.rpctlsservd.records.Tls12Suite;

/**
 * What a session's record hand-over needs from Bouncy Castle, which keeps its record sequence
 * numbers private (RecordStream's): the AEAD pair of the connection's last record cipher, each
 * counting the records it protected or opened since its key was last set, and the connection's
 * security parameters, whose current TLS 1.3 traffic secrets it copies (TLS 1.2: whose master secret
 * gives the key block). Made by
 * {@link RecordCrypto#tap} once the handshake is done.
 */
final class RecordTap {
    private final SecurityParameters params;
    private final TlsCrypto crypto;
    private final Pair pair;
    private final boolean server;

    RecordTap(SecurityParameters params, TlsCrypto crypto, Pair pair, boolean server) {
        this.params = params;
        this.crypto = crypto;
        this.pair = pair;
        this.server = server;
    }

    /**
     * The state now. Bouncy Castle is left intact: its secrets are copied, not extracted
     * (TlsSecret.extract() would wipe them, and Bouncy Castle needs them for its next KeyUpdate).
     */
    TrafficState state() {
        if (!TlsUtils.isTLSv13(params.getNegotiatedVersion())) {
            throw new IllegalStateException("traffic secrets are TLS 1.3's; this session is " + params.getNegotiatedVersion());
        }
        int suite = params.getCipherSuite();
        if (suite != CipherSuite.TLS_AES_128_GCM_SHA256 && suite != CipherSuite.TLS_AES_256_GCM_SHA384
                && suite != CipherSuite.TLS_CHACHA20_POLY1305_SHA256) {
            throw new IllegalStateException("no record hand-over for " + TlsPolicy.suiteName(suite));
        }
        TlsSecret client = params.getTrafficSecretClient();
        TlsSecret server = params.getTrafficSecretServer();
        return new TrafficState(suite, copy(this.server ? client : server), pair.decrypt.records,
                copy(this.server ? server : client), pair.encrypt.records,
                pair.decrypt.keys > 1 && pair.decrypt.keyedAt > pair.encrypt.keyedAt);
    }

    /**
     * A TLS 1.2 AEAD session's keys now: the key block (RFC 5246 section 6.3) derived again from the
     * connection's master secret with its PRF, as Bouncy Castle derived it for its record cipher, and
     * each direction's record count since then (the sequence numbers: one cipher serves the whole
     * session, as TLS 1.2 has no rekeying but renegotiation, which the daemon refuses). Derived
     * rather than caught as Bouncy Castle keys its cipher: no key copies are kept for the sessions
     * that never hand over, and the master secret is what the RFC defines the keys by.
     */
    Tls12Keys keys12() {
        if (!ProtocolVersion.TLSv12.equals(params.getNegotiatedVersion())) {
            throw new IllegalStateException("a TLS 1.2 key block; this session is " + params.getNegotiatedVersion());
        }
        Tls12Suite suite;
        try {
            suite = Tls12Suite.of(params.getCipherSuite());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("no record hand-over for " + TlsPolicy.suiteName(params.getCipherSuite()), e);
        }
        if (pair.encrypt.keys != 1 || pair.decrypt.keys != 1) {
            throw new IllegalStateException("the record cipher was keyed " + pair.encrypt.keys + "/" + pair.decrypt.keys + " times, not once");
        }
        TlsSecret master = params.getMasterSecret();
        if (master == null || !master.isAlive()) {
            throw new IllegalStateException("the master secret is gone");
        }
        byte[] seed = new byte[64];
        System.arraycopy(params.getServerRandom(), 0, seed, 0, 32);
        System.arraycopy(params.getClientRandom(), 0, seed, 32, 32);
        int k = suite.keyLength;
        int iv = suite.fixedIvLength;
        byte[] block = master.deriveUsingPRF(params.getPRFAlgorithm(), "key expansion", seed, 2 * k + 2 * iv).extract();
        try {
            // client_write_key, server_write_key, client_write_IV, server_write_IV (AEAD suites have no MAC keys)
            byte[] clientKey = java.util.Arrays.copyOfRange(block, 0, k);
            byte[] serverKey = java.util.Arrays.copyOfRange(block, k, 2 * k);
            byte[] clientIv = java.util.Arrays.copyOfRange(block, 2 * k, 2 * k + iv);
            byte[] serverIv = java.util.Arrays.copyOfRange(block, 2 * k + iv, 2 * k + 2 * iv);
            return this.server
                    ? new Tls12Keys(suite, clientKey, clientIv, pair.decrypt.records, serverKey, serverIv, pair.encrypt.records)
                    : new Tls12Keys(suite, serverKey, serverIv, pair.decrypt.records, clientKey, clientIv, pair.encrypt.records);
        } finally {
            java.util.Arrays.fill(block, (byte) 0);
        }
    }

    private byte[] copy(TlsSecret s) {
        return crypto.adoptSecret(s).extract(); // extract() empties the copy, not Bouncy Castle's
    }

    /**
     * One record cipher's two halves, made together by {@link RecordCrypto}. Their fields are plain:
     * a session's Bouncy Castle state is only ever driven by one thread at a time (the handshake's
     * steps, then under TlsSession's monitor), with hand-offs in between that publish them.
     */
    static final class Pair {
        final Counted encrypt;
        final Counted decrypt;
        /** Orders the two halves' key changes: a KeyUpdate taken after our last one may be owed an answer. */
        private long clock;

        Pair(TlsAEADCipherImpl encrypt, TlsAEADCipherImpl decrypt) {
            this.encrypt = new Counted(encrypt);
            this.decrypt = new Counted(decrypt);
        }

        /** One direction of Bouncy Castle's record cipher: every record passes through one doFinal. */
        final class Counted implements TlsAEADCipherImpl {
            private final TlsAEADCipherImpl cipher;
            /** Records protected or opened under the current key: the next record's sequence number. */
            long records;
            /** How many keys this half had: 1 for the phase's first, one more per KeyUpdate. */
            int keys;
            long keyedAt;

            Counted(TlsAEADCipherImpl cipher) {
                this.cipher = cipher;
            }

            @Override
            public void setKey(byte[] key, int keyOff, int keyLen) throws IOException {
                cipher.setKey(key, keyOff, keyLen);
                records = 0;
                keys++;
                keyedAt = ++clock;
            }

            @Override
            public void init(byte[] nonce, int macSize) throws IOException {
                cipher.init(nonce, macSize);
            }

            @Override
            public int getOutputSize(int inputLength) {
                return cipher.getOutputSize(inputLength);
            }

            @Override
            public int doFinal(byte[] additionalData, byte[] input, int inputOffset, int inputLength, byte[] output,
                    int outputOffset) throws IOException {
                int n = cipher.doFinal(additionalData, input, inputOffset, inputLength, output, outputOffset);
                records++; // only once it passed: a record that fails its tag ends the connection anyway
                return n;
            }
        }
    }
}
