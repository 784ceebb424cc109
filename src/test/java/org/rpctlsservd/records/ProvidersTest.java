package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.Provider;
import java.security.Security;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which provider AES-GCM records go on (Providers.choose for each setting and each way the native
 * provider's load can end), and that on this machine (linux x86_64, as CI) the native one loads,
 * so the record layers' tests really run on it.
 */
class ProvidersTest {
    private static final Provider SUN_JCE = Security.getProvider("SunJCE");
    private static final Providers.Accp FAILED = new Providers.Accp(null, null,
            "java.lang.UnsatisfiedLinkError: no amazonCorrettoCryptoProvider in java.library.path");

    /** The native provider's load, counted: a setting that must not load it is seen to not have. */
    private static final class CountedLoad implements Supplier<Providers.Accp> {
        final AtomicInteger calls = new AtomicInteger();
        private final Providers.Accp result;

        CountedLoad(Providers.Accp result) {
            this.result = result;
        }

        @Override
        public Providers.Accp get() {
            calls.incrementAndGet();
            return result;
        }
    }

    private static Providers.Accp loaded() {
        Providers.Accp a = Providers.Accp.load(() -> true);
        assertNotNull(a.provider(), "the Amazon Corretto Crypto Provider loads on linux x86_64: " + a.error());
        return a;
    }

    @Test
    void theNativeProviderLoadsHereAndPassesItsSelfTests() {
        Providers.Accp a = loaded();
        assertNull(a.error());
        assertEquals("AmazonCorrettoCryptoProvider", a.provider().getName());
        assertTrue(a.version().matches("AmazonCorrettoCryptoProvider 2\\.5\\.0 \\(AWS-LC v?[0-9.]+\\)"), a.version());
        assertNotNull(a.provider().getService("Cipher", "AES/GCM/NoPadding"), "it offers AES-GCM");
    }

    @Test
    void theRecordLayersAesGcmRunsOnTheNativeProviderHereAndTheRestOnSunJce() throws Exception {
        Provider accp = loaded().provider();
        assertSame(accp, Providers.aesGcmProvider(), Providers.aesGcm().why());
        assertSame(accp, Providers.cipher("AES/GCM/NoPadding").getProvider());
        assertSame(accp, Providers.cipher(Tls12Suite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.transformation).getProvider());
        assertSame(SUN_JCE, Providers.cipher(Tls13Suite.TLS_CHACHA20_POLY1305_SHA256.transformation).getProvider());
        assertSame(SUN_JCE, Providers.mac("HmacSHA256").getProvider(), "HKDF's HMAC stays on SunJCE");
    }

    @Test
    void autoWithTheNativeProviderLoadedChoosesIt() {
        Providers.Accp a = loaded();
        CountedLoad load = new CountedLoad(a);
        Providers.Choice c = Providers.choose("auto", SUN_JCE, load);
        assertSame(a.provider(), c.provider());
        assertEquals(a.version(), c.why());
        assertEquals(1, load.calls.get());
        assertEquals("record protection: AES-GCM on " + a.version() + "; ChaCha20-Poly1305 on SunJCE; " + NativeGcm.describe(), Providers.describe(c));
    }

    @Test
    void autoWhereTheNativeProviderDidNotLoadFallsBackToSunJceAndSaysWhy() {
        Providers.Choice c = Providers.choose("auto", SUN_JCE, new CountedLoad(FAILED));
        assertSame(SUN_JCE, c.provider());
        assertTrue(c.why().startsWith("SunJCE (the Amazon Corretto Crypto Provider did not load: "), c.why());
        assertTrue(c.why().contains(FAILED.error()), c.why());
        assertTrue(Providers.describe(c).startsWith("record protection: AES-GCM on SunJCE ("), Providers.describe(c));
    }

    @Test
    void jdkChoosesSunJceWithoutLoadingTheNativeProvider() {
        CountedLoad load = new CountedLoad(loaded());
        Providers.Choice c = Providers.choose("jdk", SUN_JCE, load);
        assertSame(SUN_JCE, c.provider());
        assertEquals("SunJCE (-Drpctlsservd.recordCrypto=jdk)", c.why());
        assertEquals(0, load.calls.get(), "-D" + Providers.PROPERTY + "=jdk does not load the native provider");
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "jdk"})
    void withoutSunJceAesGcmIsAskedByAlgorithmAndTheNativeProviderIsNotLoaded(String setting) {
        CountedLoad load = new CountedLoad(loaded());
        Providers.Choice c = Providers.choose(setting, null, load);
        assertNull(c.provider(), "a FIPS set-up's own providers, by algorithm");
        assertTrue(c.why().contains("no SunJCE"), c.why());
        assertEquals(0, load.calls.get());
    }

    @ParameterizedTest
    @ValueSource(strings = {"bogus", "", "AUTO", "Jdk", " auto", "accp"})
    void aBadSettingIsRefusedNamingThePropertyAndItsValues(String setting) {
        for (Provider jdk : new Provider[] {SUN_JCE, null}) {
            CountedLoad load = new CountedLoad(loaded());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Providers.choose(setting, jdk, load));
            assertEquals("-Drpctlsservd.recordCrypto=" + setting + ": the values are auto and jdk", e.getMessage());
            assertEquals(0, load.calls.get(), "nothing is loaded for a refused setting");
        }
    }
}
