package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.TestPki;

/** The allow-list as pure policy: certificates in, a refusal (or none) out; no sockets. */
class AllowListTest {
    static final TestPki.Ca CA = TestPki.ca("Allow CA");
    static final TestPki.Issued ALICE = CA.leaf("alice").dns("alice.nfs.example.org").uri("spiffe://example.org/nfs/alice")
            .eku("1.3.6.1.5.5.7.3.33").issue();
    static final TestPki.Issued BOB = CA.leaf("bob").dns("Bob.Other.example.com").issue();

    static boolean allowed(AllowList a, TestPki.Issued who) {
        return a.refusal(who.cert()).isEmpty();
    }

    @Test
    void anEmptyListAllowsEveryone() {
        assertFalse(AllowList.ANYONE.restricts());
        assertTrue(allowed(AllowList.ANYONE, ALICE));
        assertTrue(allowed(AllowList.ANYONE, BOB));
    }

    @Test
    void subjectsMatchTheRfc2253NameExactlyOrByAGlob() {
        // RFC 2253 writes the last RDN first; the test CA encodes CN first, so it comes out last.
        assertEquals("O=rpc-tlsservd tests,CN=alice", AllowList.rfc2253(ALICE.cert()));
        AllowList exact = new AllowList(List.of("O=rpc-tlsservd tests,CN=alice"), List.of(), false);
        assertTrue(allowed(exact, ALICE));
        assertFalse(allowed(exact, BOB));
        assertFalse(allowed(new AllowList(List.of("CN=alice"), List.of(), false), ALICE), "exact means the whole name");
        assertFalse(allowed(new AllowList(List.of("o=rpc-tlsservd tests,cn=alice"), List.of(), false), ALICE), "and its case");
        AllowList glob = new AllowList(List.of("O=*,CN=?lice"), List.of(), false);
        assertTrue(allowed(glob, ALICE));
        assertFalse(allowed(glob, BOB));
        assertFalse(allowed(new AllowList(List.of("O=rpc-tlsservd tests,CN=alic."), List.of(), false), ALICE), "a dot is a dot");
        assertEquals("not allowed: subject \"O=rpc-tlsservd tests,CN=bob\" and names [bob.other.example.com] match no --allow-subject"
                + " or --allow-san", exact.refusal(BOB.cert()).orElseThrow());
    }

    @Test
    void namesMatchDnsWithoutCaseAndUrisAsWritten() {
        AllowList dns = new AllowList(List.of(), List.of("*.OTHER.example.com"), false);
        assertTrue(allowed(dns, BOB));
        assertFalse(allowed(dns, ALICE));
        AllowList uri = new AllowList(List.of(), List.of("spiffe://example.org/nfs/*"), false);
        assertTrue(allowed(uri, ALICE));
        assertFalse(allowed(new AllowList(List.of(), List.of("spiffe://example.org/NFS/*"), false), ALICE), "a URI's path keeps its case");
        AllowList either = new AllowList(List.of("*,CN=carol"), List.of("bob.other.example.com"), false);
        assertTrue(allowed(either, BOB), "a subject or a name: one match is enough");
    }

    @Test
    void requireEkuWantsIdKpRpcTlsClient() {
        AllowList eku = new AllowList(List.of(), List.of(), true);
        assertTrue(eku.restricts());
        assertTrue(allowed(eku, ALICE));
        assertEquals("not allowed: no extended key usage id-kp-rpcTLSClient (--require-eku)", eku.refusal(BOB.cert()).orElseThrow());
        TestPki.Issued serverOnly = CA.leaf("carol").eku("1.3.6.1.5.5.7.3.34").issue();
        assertFalse(allowed(eku, serverOnly), "id-kp-rpcTLSServer is not the client's usage");
        AllowList both = new AllowList(List.of("*,CN=bob"), List.of(), true);
        assertFalse(allowed(both, BOB), "both rules apply");
    }
}
