package org.rpctlsservd.records;

import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.Security;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.crypto.Cipher;
import javax.crypto.Mac;

/**
 * Where the record layers' ciphers come from. AES-GCM, the cipher nearly every session runs, on the
 * Amazon Corretto Crypto Provider (AWS-LC's AES-GCM through JNI, on byte arrays) where its native
 * library loads: 25-45 % faster than SunJCE's on Java 17 (RecordLayerBench) and level with OpenSSL's,
 * which stunnel and HAProxy use. Everything else, and AES-GCM where that provider does not load (another
 * platform) or {@code -Drpctlsservd.recordCrypto=jdk} asks, on SunJCE, asked by name: by algorithm
 * alone a java.security that lists another provider first would put every record on that provider's
 * (plain-Java) GCM. A JDK without SunJCE (a FIPS set-up) is asked by algorithm, never by us for
 * a provider its configuration did not choose.
 */
public final class Providers {
    /** The system property that chooses AES-GCM's provider: {@code auto} (the default) or {@code jdk}. */
    public static final String PROPERTY = "rpctlsservd.recordCrypto";

    private static final Provider SUN_JCE = Security.getProvider("SunJCE");
    private static final Object LOCK = new Object();
    /** Null until chosen: by {@link #loadInBackground}, or by the first cipher asked for (tests and tools). */
    private static volatile Choice aesGcm;
    private static boolean loading;
    /** The daemon will load the native provider once ready ({@link #prepare}): until then records use SunJCE. */
    private static boolean deferred;
    /** Moves on at each stop: a background load of an earlier epoch begins no copy and leaves the choice alone (guarded by LOCK). */
    private static int epoch;
    /** Moves on when the choice changes (the background load done): each record cipher then makes its cipher object anew. */
    private static volatile int generation;

    private Providers() {
    }

    /** What AES-GCM runs on and why: {@code provider} null means "by algorithm" (no SunJCE). */
    record Choice(Provider provider, String why) {
    }

    /** AES-GCM's provider for a {@link #PROPERTY} setting, the JDK's SunJCE (null: absent) and the native one. */
    static Choice choose(String setting, Provider jdk, Supplier<Accp> accp) {
        checkSetting(setting);
        if (jdk == null) {
            return new Choice(null, "the JDK's configured providers (no SunJCE: a FIPS set-up keeps its own)");
        }
        if (setting.equals("jdk")) {
            return new Choice(jdk, jdk.getName() + " (-D" + PROPERTY + "=jdk)");
        }
        Accp a = accp.get();
        if (a.provider() == null) {
            return new Choice(jdk, jdk.getName() + " (the Amazon Corretto Crypto Provider did not load: " + a.error() + ")");
        }
        return new Choice(a.provider(), a.version());
    }

    private static void checkSetting(String setting) {
        if (!setting.equals("auto") && !setting.equals("jdk")) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + setting + ": the values are auto and jdk");
        }
    }

    private static String setting() {
        return System.getProperty(PROPERTY, "auto");
    }

    /**
     * For the daemon, once it is ready: chooses AES-GCM's provider on a thread of its own, which
     * ends when it has, and reports the choice in one line. Loading the native provider and its
     * self-tests take 0.3-0.5 s of CPU, which the start-up (issue 18's half second) cannot spare;
     * sessions begun meanwhile stay on SunJCE, whose records are the same bytes. Throws
     * IllegalArgumentException at once for a {@link #PROPERTY} value that is neither auto nor jdk.
     */
    public static void loadInBackground(Consumer<String> report) {
        String setting = setting();
        checkSetting(setting);
        int mine;
        synchronized (LOCK) {
            deferred = false;
            if (loading) {
                return;
            }
            if (aesGcm != null) {
                Choice chosen = aesGcm;
                report.accept(describe(chosen));
                return;
            }
            loading = true;
            mine = epoch;
        }
        Thread t = new Thread(() -> {
            Choice c;
            try {
                java.util.function.BooleanSupplier wanted = () -> {
                    synchronized (LOCK) {
                        return epoch == mine;
                    }
                };
                c = choose(setting, SUN_JCE, () -> Accp.load(wanted));
                loadSealing(wanted);
            } catch (VirtualMachineError e) {
                synchronized (LOCK) {
                    if (epoch == mine) {
                        loading = false;
                        aesGcm = new Choice(SUN_JCE, "the JDK's");
                    }
                }
                throw e;
            } catch (Throwable e) { // an Error from native code: the JDK's cipher, and the line says why
                c = new Choice(SUN_JCE, "the JDK's (loading the native provider failed: " + e + ")");
            }
            synchronized (LOCK) {
                if (epoch != mine) {
                    return; // stopped meanwhile: nothing to say, and a later start in this JVM chooses afresh
                }
                loading = false;
                aesGcm = c;
                renewed();
            }
            report.accept(describe(c));
        }, "record-crypto-load");
        t.setDaemon(true);
        t.start();
    }

    /**
     * For the daemon's stop, as soon as it begins: a background load that has not begun copying the
     * native library out of the jar will not, and what one finishes is not used; ciphers made from now
     * on are the JDK's, with no load of their own. True when a background load was running.
     */
    public static boolean callOffLoading() {
        synchronized (LOCK) {
            epoch++;
            deferred = true;
            boolean was = loading;
            loading = false;
            return was;
        }
    }

    /** Loads the native sealing; whatever goes wrong there leaves records on the JCE provider and AES-GCM's choice as made. */
    private static void loadSealing(java.util.function.BooleanSupplier wanted) {
        try {
            NativeCopies.whileCopying(wanted, NativeGcm::load);
        } catch (RuntimeException | LinkageError e) {
            NativeGcm.failed(e);
        }
    }

    /** The ciphers made so far are to be made again at their next record (sessions begun while the native provider loaded move to it). */
    static void renewed() {
        generation++;
    }

    static int generation() {
        return generation;
    }

    /** Checks the {@link #PROPERTY} setting alone: IllegalArgumentException with the message to show. */
    public static void checkSetting() {
        checkSetting(setting());
    }

    /**
     * The daemon's start, before it serves: checks the setting (a bad value stops it with the
     * IllegalArgumentException's message) and initialises the JDK's JCA for ciphers now. Its first use
     * reads the JDK's policy files; failing that, as under a flood that has taken every descriptor,
     * leaves javax.crypto unusable for the life of the JVM (JceSecurity's class initialisation is not
     * retried), and with it every record cipher. Throws GeneralSecurityException if the JDK has no
     * AES-GCM at all.
     */
    public static void prepare() throws GeneralSecurityException {
        checkSetting(setting());
        synchronized (LOCK) {
            deferred = true; // a record before READY (a client quick to reconnect) must not load it on a loop thread
        }
        // The least that initialises JceSecurity (its policy files): a cipher or a MAC costs the start 50 ms more.
        if (Cipher.getMaxAllowedKeyLength("AES") < 256) {
            throw new GeneralSecurityException("the JDK's crypto policy limits AES keys to "
                    + Cipher.getMaxAllowedKeyLength("AES") + " bits: AES-256 suites cannot work");
        }
    }

    static String describe(Choice c) {
        return "record protection: AES-GCM on " + c.why() + "; ChaCha20-Poly1305 on "
                + (SUN_JCE != null ? SUN_JCE.getName() : "the JDK's configured providers") + "; " + NativeGcm.describe();
    }

    /**
     * AES-GCM's provider now: the chosen one; SunJCE while the daemon's background load runs; chosen
     * here, at once, where nothing started one (unit tests, benchmarks, tools).
     */
    static Choice aesGcm() {
        Choice c = aesGcm;
        if (c != null) {
            return c;
        }
        synchronized (LOCK) {
            if (aesGcm == null) {
                if (loading || deferred) {
                    return new Choice(SUN_JCE, "the JDK's (the native provider not loaded yet)");
                }
                aesGcm = choose(setting(), SUN_JCE, () -> Accp.load(() -> true));
                loadSealing(() -> true);
            }
            return aesGcm;
        }
    }

    /** The provider AES-GCM records are protected on now (null: by algorithm); for tests and benchmarks. */
    static Provider aesGcmProvider() {
        return aesGcm().provider();
    }

    static Cipher cipher(String transformation) throws GeneralSecurityException {
        Choice chosen = aesGcm(); // for every transformation: where nothing started it, this also loads the native sealing
        Provider p = transformation.startsWith("AES/GCM/") ? chosen.provider() : SUN_JCE;
        return p != null ? Cipher.getInstance(transformation, p) : Cipher.getInstance(transformation);
    }

    /**
     * True once TLS 1.3 AES-GCM records (and ChaCha20-Poly1305's, where libcrypto has it) are sealed
     * and opened in direct buffers (the native library loaded): the front end's loops then read into, and seal into, direct buffers.
     */
    public static boolean sealsDirect() {
        return NativeGcm.ready();
    }

    /** Records sealed between direct buffers so far, in this JVM (for tests: that a relay went that way). */
    public static long sealedDirect() {
        return NativeGcm.SEALED.sum();
    }

    /** Records opened in place in direct buffers so far, in this JVM (for tests: that a relay went that way). */
    public static long openedDirect() {
        return NativeGcm.OPENED.sum();
    }

    /** The Cipher mode of a record cipher that encrypts (seals) or decrypts (opens). */
    static int cipherMode(boolean encrypt) {
        return encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
    }

    static Mac mac(String algorithm) throws GeneralSecurityException {
        return SUN_JCE != null ? Mac.getInstance(algorithm, SUN_JCE) : Mac.getInstance(algorithm);
    }

    /** The Amazon Corretto Crypto Provider, or why not: its jar absent, or its native library not loaded here. */
    record Accp(Provider provider, String version, String error) {
        /**
         * Loads it, runs its self-tests (known answers of each algorithm, once) and seals and opens
         * one record through the JCA as the record layers will: a provider that fails any of it is
         * not used (a JDK that authenticates providers, as Oracle's does, refuses this one, whose
         * jar signature the packaged jar does not keep).
         */
        static Accp load(java.util.function.BooleanSupplier wanted) {
            try {
                NativeCopies.sweep(NativeCopies.directory(), NativeCopies.staleBefore());
                if (!NativeCopies.whileCopying(wanted, Accp::initialiseClass)) {
                    return new Accp(null, null, "the daemon stopped before it loaded");
                }
                com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider p =
                        com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider.INSTANCE;
                p.assertHealthy();
                trial(p);
                return new Accp(p, p.getName() + " " + p.getVersionStr() + " (" + p.getAwsLcVersionStr() + ")", null);
            } catch (LinkageError | RuntimeException | GeneralSecurityException e) {
                return new Accp(null, null, String.valueOf(e));
            }
        }

        /** The provider's class initialisation, which copies its library out of the jar, loads it and deletes the copy. */
        private static void initialiseClass() {
            try {
                Class.forName("com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider", true, Providers.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new NoClassDefFoundError(e.getMessage());
            }
        }

        private static void trial(Provider p) throws GeneralSecurityException {
            javax.crypto.spec.SecretKeySpec key = new javax.crypto.spec.SecretKeySpec(new byte[16], "AES");
            javax.crypto.spec.GCMParameterSpec nonce = new javax.crypto.spec.GCMParameterSpec(128, new byte[12]);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, key, nonce);
            byte[] sealed = c.doFinal(new byte[] {1, 2, 3});
            c.init(Cipher.DECRYPT_MODE, key, nonce);
            if (!java.util.Arrays.equals(new byte[] {1, 2, 3}, c.doFinal(sealed))) {
                throw new GeneralSecurityException("a sealed record did not open to what was sealed");
            }
        }
    }
}
