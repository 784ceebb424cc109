package org.rpctlsservd.records;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;

/**
 * AEAD sealing and opening of TLS 1.3 records (AES-GCM, and ChaCha20-Poly1305 where libcrypto has
 * it) in direct buffers, on the system's libcrypto through a small JNI library of ours
 * ({@code src/main/c/nativegcm.c}, built into the jar where gcc and libssl-dev are). With it the
 * front end reads the backend's bytes into a direct buffer and seals the records from there into
 * another, and opens the client's records in place, so no relayed byte is copied in user space: the
 * JCE providers take arrays, and NIO copies every byte into and out of them (docs/measurements.md:
 * 15-25 % of the front end's CPU per MB in bulk). Where it does not load (no libcrypto.so.3, another
 * platform, {@code -Drpctlsservd.recordCrypto=jdk}) records are sealed by the JCE provider: the same
 * bytes.
 *
 * <p>Loaded once, by {@link Providers} (after READY in the daemon, at the first cipher elsewhere),
 * and tried on one record against SunJCE's before use: its copy goes to the temporary directory, is
 * loaded and deleted at once, under {@link NativeCopies}' copy lock (a stop waits for it); copies a
 * killed JVM left are swept when older than a minute, as for the native provider's.
 */
final class NativeGcm {
    /** The prefix of the library's copies in the temporary directory. */
    static final String PREFIX = "rpctlsservd-nativegcm.";
    /** {@code -Drpctlsservd.nativeRecords=off} keeps every record on the JCE provider (the native provider's, where it loads). */
    static final String OFF = "rpctlsservd.nativeRecords";
    private static final String RESOURCE = "native/linux-x86_64/libnativegcm.so";
    private static final Object LOCK = new Object();
    private static volatile boolean ready;
    /** Also ChaCha20-Poly1305 (set before {@link #ready}; false where libcrypto lacks it or it failed its trial). */
    private static volatile boolean chachaReady;
    /** What loading said (null: not tried yet). */
    private static String state;
    /** Frees the contexts of ciphers collected without having been made quiet (one daemon thread, for the JVM's life). */
    private static Cleaner cleaner;

    private NativeGcm() {
    }

    /** Records sealed here so far (for tests: that a relay went this way). */
    static final java.util.concurrent.atomic.LongAdder SEALED = new java.util.concurrent.atomic.LongAdder();
    /** Records refused here for their tag so far (for tests). */
    static final java.util.concurrent.atomic.LongAdder REFUSED = new java.util.concurrent.atomic.LongAdder();
    /** Records opened here so far (for tests). */
    static final java.util.concurrent.atomic.LongAdder OPENED = new java.util.concurrent.atomic.LongAdder();

    /** True once the library is loaded: TLS 1.3 AES-GCM records between direct buffers are sealed and opened here. */
    static boolean ready() {
        return ready;
    }

    /** True once ChaCha20-Poly1305's records between direct buffers are sealed and opened here too. */
    static boolean chachaReady() {
        return chachaReady;
    }

    /** True when {@code suite}'s records between direct buffers are sealed and opened here now. */
    static boolean takes(Tls13Suite suite) {
        return ready && (suite.gcm() || chachaReady);
    }

    /** Loads the library unless tried already (callers hold {@link NativeCopies}' copy lock, which a stop waits for). */
    static void load() {
        synchronized (LOCK) {
            if (state == null) {
                state = tryLoad();
            }
        }
    }

    /** Loading failed outside what it checks (a bad java.io.tmpdir, say): records stay on the JCE provider, and the line says why. */
    static void failed(Throwable e) {
        synchronized (LOCK) {
            if (state == null) {
                state = "on the JCE provider (the native AES-GCM did not load: " + e + ")";
            }
        }
    }

    /** What loading said, for the start-up line. */
    static String describe() {
        synchronized (LOCK) {
            return "TLS 1.3 " + (chachaReady ? "AES-GCM and ChaCha20-Poly1305" : "AES-GCM") + " records "
                    + (state != null ? state : "on the JCE provider (the native AES-GCM not loaded yet)");
        }
    }

    private static String tryLoad() {
        if (System.getProperty(Providers.PROPERTY, "auto").equals("jdk")) {
            return "on the JCE provider (-D" + Providers.PROPERTY + "=jdk)";
        }
        if (System.getProperty(OFF, "on").equals("off")) {
            return "on the JCE provider (-D" + OFF + "=off)";
        }
        if (!System.getProperty("os.name", "").equals("Linux") || !System.getProperty("os.arch", "").equals("amd64")) {
            return "on the JCE provider (the native AES-GCM is for Linux x86-64 only)";
        }
        URL url = NativeGcm.class.getResource(RESOURCE);
        if (url == null) {
            return "on the JCE provider (the native AES-GCM is not in this jar: built without gcc or libssl-dev)";
        }
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        sweep(dir, Instant.now().minus(NativeCopies.STALE));
        Path copy = null;
        try {
            copy = Files.createTempFile(dir, PREFIX, ".so"); // mode 0600
            try (InputStream in = url.openStream()) {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            }
            System.load(copy.toString());
            String v = version();
            trial(Tls13Suite.TLS_AES_128_GCM_SHA256);
            String chacha = "";
            boolean withChacha = false;
            try {
                trial(Tls13Suite.TLS_CHACHA20_POLY1305_SHA256);
                withChacha = true;
            } catch (java.security.GeneralSecurityException e) { // a libcrypto without it (a FIPS-only one): AES-GCM goes on alone
                chacha = " (ChaCha20-Poly1305's on the JCE provider: " + e.getMessage() + ")";
            }
            cleaner = Cleaner.create(r -> {
                Thread t = new Thread(r, "native-sealing-cleaner");
                t.setDaemon(true);
                return t;
            });
            chachaReady = withChacha;
            ready = true;
            return "sealed and opened on " + v + ", in direct buffers" + chacha;
        } catch (java.security.GeneralSecurityException e) {
            return "on the JCE provider (the native AES-GCM failed its trial: " + e.getMessage() + ")";
        } catch (IOException | SecurityException | UnsatisfiedLinkError e) {
            return "on the JCE provider (the native AES-GCM did not load: " + e.getMessage() + ")";
        } finally {
            if (copy != null) {
                try {
                    Files.deleteIfExists(copy); // loaded or not, the copy is not needed any more
                } catch (IOException e) {
                    // swept by a later start
                }
            }
        }
    }

    /**
     * Seals one record here and with SunJCE's AES-GCM or ChaCha20-Poly1305 (the record's header as
     * additional data, the inner type after the data), before any session's record is: the two must
     * be the same bytes; SunJCE's record must open here, and a forged one must not.
     */
    private static void trial(Tls13Suite suite) throws java.security.GeneralSecurityException {
        boolean chacha = !suite.gcm();
        byte[] key = new byte[suite.keyLength];
        byte[] nonce = new byte[12];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (i * 7 + 1);
        }
        nonce[11] = 1;
        ByteBuffer src = ByteBuffer.allocateDirect(3).put(new byte[] {1, 2, 3});
        ByteBuffer dst = ByteBuffer.allocateDirect(5 + 3 + 1 + 16).put(new byte[] {23, 3, 3, 0, 20}); // the header, as the layer writes it
        long ctx = create(key, true, chacha);
        if (ctx == 0) {
            throw new java.security.GeneralSecurityException("no context");
        }
        int n;
        try {
            n = seal(ctx, nonce, src, 0, 3, 23, dst, 5);
        } finally {
            free(ctx);
        }
        javax.crypto.Cipher c = javax.crypto.Cipher.getInstance(suite.transformation, "SunJCE");
        c.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(key, suite.keyAlgorithm), suite.spec(nonce));
        c.updateAAD(new byte[] {23, 3, 3, 0, 20});
        byte[] expected = c.doFinal(new byte[] {1, 2, 3, 23});
        byte[] got = new byte[Math.max(n, 0)];
        dst.get(5, got);
        if (n != 20 || !java.util.Arrays.equals(expected, got)) {
            throw new java.security.GeneralSecurityException("a sealed record differs from SunJCE's");
        }
        ByteBuffer record = ByteBuffer.allocateDirect(5 + 20).put(new byte[] {23, 3, 3, 0, 20}).put(expected);
        long reader = create(key, false, chacha);
        if (reader == 0) {
            throw new java.security.GeneralSecurityException("no context");
        }
        try {
            byte[] opened = new byte[4];
            if (open(reader, nonce, record, 5, 20) != 4 || !java.util.Arrays.equals(new byte[] {1, 2, 3, 23}, get(record, 5, opened))) {
                throw new java.security.GeneralSecurityException("SunJCE's record did not open to what it sealed");
            }
            for (int at : new int[] {1, 5}) { // a forged one (SunJCE's, one bit off in its header or its ciphertext) must fail its tag
                record.clear();
                record.put(new byte[] {23, 3, 3, 0, 20}).put(expected).put(at, (byte) (at == 1 ? 2 : expected[0] ^ 1));
                if (open(reader, nonce, record, 5, 20) != -2) {
                    throw new java.security.GeneralSecurityException("a forged record was not refused");
                }
            }
        } finally {
            free(reader);
        }
    }

    private static byte[] get(ByteBuffer b, int at, byte[] into) {
        b.get(at, into);
        return into;
    }

    /** Removes copies in {@code dir} changed before {@code before}, regular files of this user's: what killed JVMs left. */
    static int sweep(Path dir, Instant before) {
        return NativeCopies.sweep(dir, PREFIX, before, f -> {
            if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            Files.delete(f);
            return true;
        });
    }

    /**
     * One direction's native context, freed when made quiet, when its key moves on, or (the safety
     * net) when its cipher is collected. Used under the session's lock.
     */
    static final class Context {
        private final Holder holder = new Holder();
        private final boolean encrypt;
        private final boolean chacha;
        private boolean registered;

        /** {@code encrypt}: a context for sealing, otherwise for opening; {@code chacha}: ChaCha20-Poly1305, otherwise AES-GCM. */
        Context(boolean encrypt, boolean chacha) {
            this.encrypt = encrypt;
            this.chacha = chacha;
        }

        /** The context, keyed from {@code key} when there is none. */
        private long context(byte[] key) throws java.security.GeneralSecurityException {
            long ctx = holder.ctx.get();
            if (ctx == 0) {
                if (key == null) {
                    throw new java.security.GeneralSecurityException("no AEAD context and no key to make one");
                }
                ctx = create(key, encrypt, chacha);
                if (ctx == 0) {
                    throw new java.security.GeneralSecurityException("libcrypto made no AEAD context");
                }
                holder.ctx.set(ctx);
                if (!registered) {
                    cleaner.register(this, holder);
                    registered = true;
                }
            }
            return ctx;
        }

        /**
         * Opens in place the record whose header is the 5 bytes before {@code off} and whose
         * ciphertext and tag are the {@code len} bytes at {@code off}; returns the plaintext's length.
         * A record that fails its tag throws AEADBadTagException.
         */
        int open(byte[] key, byte[] nonce, ByteBuffer buf, int off, int len) throws java.security.GeneralSecurityException {
            long ctx = context(key);
            try {
                int n = NativeGcm.open(ctx, nonce, buf, off, len);
                if (n == -2) {
                    REFUSED.increment();
                    throw new javax.crypto.AEADBadTagException("tag mismatch");
                }
                if (n < 0) {
                    throw new java.security.GeneralSecurityException("libcrypto's AEAD refused the record");
                }
                OPENED.increment();
                return n;
            } finally {
                java.lang.ref.Reference.reachabilityFence(this);
            }
        }

        /** Seals one record behind its header, already at {@code dstOff} - 5 (see nativegcm.c); keys a context first when there is none. */
        int seal(byte[] key, byte[] nonce, ByteBuffer src, int srcOff, int n, int type, ByteBuffer dst, int dstOff)
                throws java.security.GeneralSecurityException {
            long ctx = context(key);
            try {
                int written = NativeGcm.seal(ctx, nonce, src, srcOff, n, type, dst, dstOff);
                if (written < 0) {
                    throw new java.security.GeneralSecurityException("libcrypto's AEAD refused the record");
                }
                SEALED.increment();
                return written;
            } finally {
                java.lang.ref.Reference.reachabilityFence(this); // the cleaner frees the context only once this is gone
            }
        }

        boolean held() {
            return holder.ctx.get() != 0;
        }

        /** Frees the context (a new one is keyed at the next record); true when there was one. */
        boolean release() {
            return holder.free();
        }
    }

    /** The context's address, apart from its owner so that the cleaner can free it after the owner is gone. */
    private static final class Holder implements Runnable {
        final java.util.concurrent.atomic.AtomicLong ctx = new java.util.concurrent.atomic.AtomicLong();

        /** Frees the context once, whoever asks first; true when there was one. */
        boolean free() {
            long c = ctx.getAndSet(0);
            if (c != 0) {
                NativeGcm.free(c);
            }
            return c != 0;
        }

        @Override
        public void run() {
            free();
        }
    }

    private static native String version();

    private static native long create(byte[] key, boolean encrypt, boolean chacha);

    private static native int open(long ctx, byte[] nonce, ByteBuffer buf, int off, int len);

    private static native void free(long ctx);

    private static native int seal(long ctx, byte[] nonce, ByteBuffer src, int srcOff, int n, int type, ByteBuffer dst, int dstOff);
}
