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
 * security parameters, whose current TLS 1.3 traffic secrets it copies (TLS 1.2: the key and a
 * record's nonce each half kept). Made by
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
     * A TLS 1.2 AEAD session's keys now: each direction's write key and implicit iv as Bouncy Castle
     * keyed its record cipher with them, and its record count since (the sequence numbers: one
     * cipher serves the whole session, as TLS 1.2 has no rekeying but renegotiation, which the
     * daemon refuses). Caught from Bouncy Castle rather than derived again from the master
     * secret (RFC 5246 section 6.3): Bouncy Castle destroys a session's master secret once its
     * handshake is done (no resumption), so the key block cannot be derived after it.
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
        Pair.Counted read = pair.decrypt;
        Pair.Counted write = pair.encrypt;
        if (read.keys != 1 || write.keys != 1 || read.key == null || write.key == null) {
            throw new IllegalStateException("the record cipher was keyed " + write.keys + "/" + read.keys + " times, not once, as TLS 1.2's");
        }
        if (read.ivNonce == null || write.ivNonce == null || read.key.length != suite.keyLength || write.key.length != suite.keyLength) {
            throw new IllegalStateException("no record passed under the TLS 1.2 keys in each direction (the Finished should have)");
        }
        Tls12Keys keys = new Tls12Keys(suite, read.key.clone(), read.iv(suite), read.records, write.key.clone(), write.iv(suite),
                write.records);
        read.forget(); // once: the taker has them, and Bouncy Castle keeps its own
        write.forget();
        return keys;
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

        /** {@code tls12}: the halves keep their key and a record's nonce, for a TLS 1.2 hand-over (TLS 1.3's come from its secrets). */
        Pair(TlsAEADCipherImpl encrypt, TlsAEADCipherImpl decrypt, boolean tls12) {
            this.encrypt = new Counted(encrypt, tls12);
            this.decrypt = new Counted(decrypt, tls12);
        }

        Pair(TlsAEADCipherImpl encrypt, TlsAEADCipherImpl decrypt) {
            this(encrypt, decrypt, false);
        }

        /** One direction of Bouncy Castle's record cipher: every record passes through one doFinal. */
        final class Counted implements TlsAEADCipherImpl {
            private final TlsAEADCipherImpl cipher;
            /** Records protected or opened under the current key: the next record's sequence number. */
            long records;
            /** How many keys this half had: 1 for the phase's first, one more per KeyUpdate. */
            int keys;
            long keyedAt;
            private final boolean tls12;
            /** TLS 1.2: the key, as Bouncy Castle set it. */
            byte[] key;
            /** TLS 1.2: the nonce of the last init, not yet known to be a record's (the first is a dummy). */
            private byte[] lastNonce;
            /** TLS 1.2: the nonce of the first record that passed, and that record's sequence number. */
            byte[] ivNonce;
            long ivSequence;

            Counted(TlsAEADCipherImpl cipher, boolean tls12) {
                this.cipher = cipher;
                this.tls12 = tls12;
            }

            /**
             * The implicit iv, from a record's nonce: RFC 5288's is the nonce's first 4 bytes (the
             * rest is the record's explicit nonce), RFC 7905's the nonce XOR the padded sequence number.
             */
            byte[] iv(Tls12Suite suite) {
                if (ivNonce.length != 12) {
                    throw new IllegalStateException("a nonce of " + ivNonce.length + " bytes");
                }
                byte[] iv = java.util.Arrays.copyOf(ivNonce, suite.fixedIvLength);
                if (suite.explicitNonceLength == 0) {
                    for (int i = 0; i < 8; i++) {
                        iv[11 - i] ^= (byte) (ivSequence >>> (8 * i));
                    }
                }
                return iv;
            }

            void forget() {
                if (key != null) {
                    java.util.Arrays.fill(key, (byte) 0);
                }
                key = null;
                ivNonce = null;
            }

            @Override
            public void setKey(byte[] key, int keyOff, int keyLen) throws IOException {
                cipher.setKey(key, keyOff, keyLen);
                if (tls12) {
                    this.key = java.util.Arrays.copyOfRange(key, keyOff, keyOff + keyLen);
                }
                records = 0;
                keys++;
                keyedAt = ++clock;
            }

            @Override
            public void init(byte[] nonce, int macSize) throws IOException {
                cipher.init(nonce, macSize);
                if (tls12 && ivNonce == null) {
                    lastNonce = nonce.clone();
                }
            }

            @Override
            public int getOutputSize(int inputLength) {
                return cipher.getOutputSize(inputLength);
            }

            @Override
            public int doFinal(byte[] additionalData, byte[] input, int inputOffset, int inputLength, byte[] output,
                    int outputOffset) throws IOException {
                int n = cipher.doFinal(additionalData, input, inputOffset, inputLength, output, outputOffset);
                if (lastNonce != null && ivNonce == null) {
                    ivNonce = lastNonce; // a record passed under it: a real nonce, not the constructor's dummy
                    ivSequence = records;
                    lastNonce = null;
                }
                records++; // only once it passed: a record that fails its tag ends the connection anyway
                return n;
            }
        }
    }
}
