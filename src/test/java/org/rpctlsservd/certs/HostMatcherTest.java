package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.support.TestPki;

/** X509_check_host's rules in the three -h modes: no wildcards (default), -w (flags 0), -W (0x8). */
class HostMatcherTest {
    private static final int DEFAULT = HostMatcher.NO_WILDCARDS;
    private static final int W = 0;
    private static final int BIG_W = HostMatcher.MULTI_LABEL_WILDCARDS;

    @ParameterizedTest(name = "{0} vs {1}: default {2}, -w {3}, -W {4}")
    @CsvSource({
        "*.example.com, a.b.example.com, false, false, true",
        "*.example.com, a.example.com, false, true, true",
        "*.example.com, example.com, false, false, false",
        "nfs.example.com, NFS.Example.COM, true, true, true",
        "nfs.example.com, nfs2.example.com, false, false, false",
        "f*.example.com, foo.example.com, false, true, true",
        "f*.example.com, bar.example.com, false, false, false",
        "*o.example.com, foo.example.com, false, true, true",
        "*.com, example.com, false, false, false",
        "a.*.example.com, a.b.example.com, false, false, false",
        "*.example.com, xn--bcher-kva.example.com, false, true, true",
        "x*.example.com, xn--bcher-kva.example.com, false, false, false",
        "*.uoguelph.ca, laptop3.cis.uoguelph.ca, false, false, true",
    })
    void wildcardModes(String pattern, String host, boolean byDefault, boolean singleW, boolean multiW) {
        assertEquals(byDefault, HostMatcher.matchName(pattern, host, DEFAULT), "default");
        assertEquals(singleW, HostMatcher.matchName(pattern, host, W), "-w");
        assertEquals(multiW, HostMatcher.matchName(pattern, host, BIG_W), "-W");
    }

    @Test
    void dnsNamesWinOverTheCommonName() {
        TestPki.Ca ca = TestPki.ca("CA");
        TestPki.Issued withSan = ca.leaf("cn.example.com").dns("san.example.com").issue();
        assertTrue(HostMatcher.matches(withSan.cert(), "san.example.com", DEFAULT));
        assertFalse(HostMatcher.matches(withSan.cert(), "cn.example.com", DEFAULT), "CN ignored when DNS names exist");
        TestPki.Issued cnOnly = ca.leaf("cn.example.com").issue();
        assertTrue(HostMatcher.matches(cnOnly.cert(), "cn.example.com", DEFAULT), "CN used when there are no DNS names");
        TestPki.Issued several = ca.leaf("x").dns("a.example.com").dns("*.example.org").issue();
        assertTrue(HostMatcher.matches(several.cert(), "b.example.org", W));
        assertFalse(HostMatcher.matches(several.cert(), "b.example.org", DEFAULT));
    }
}
