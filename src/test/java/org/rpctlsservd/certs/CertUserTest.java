package org.rpctlsservd.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.bouncycastle.asn1.DERUTF8String;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.TestPki;

/** The otherName rules of -u: OID, UTF8String of 3..1024 bytes, the domain's first occurrence at the very end. */
class CertUserTest {
    private static final String DOMAIN = "@example.org";
    private final TestPki.Ca ca = TestPki.ca("CA");

    private Optional<String> user(TestPki.Builder b) {
        return CertUser.user(b.issue().cert(), DOMAIN);
    }

    @Test
    void rightDomain() {
        assertEquals(Optional.of("alice"), user(ca.leaf("c").user("alice@example.org")));
        assertEquals(Optional.of("alice"), user(ca.leaf("c").user("alice@EXAMPLE.Org")), "case-insensitive");
    }

    @Test
    void noMapping() {
        assertEquals(Optional.empty(), user(ca.leaf("c").dns("localhost")), "no otherName");
        assertEquals(Optional.empty(), user(ca.leaf("c").user("alice@example.com")), "wrong domain");
        assertEquals(Optional.empty(), user(ca.leaf("c").user("alice@example.org.evil")), "domain not at the end");
        assertEquals(Optional.empty(), user(ca.leaf("c").user("a@example.org@example.org")), "first occurrence not at the end");
        assertEquals(Optional.empty(), user(ca.leaf("c").printableUser("alice@example.org")), "PrintableString");
        assertEquals(Optional.empty(), user(ca.leaf("c").ia5User("alice@example.org")), "IA5String");
        assertEquals(Optional.empty(), user(ca.leaf("c").user("ab")), "2 bytes");
        assertEquals(Optional.empty(), user(ca.leaf("c").otherName("1.3.6.1.4.1.2238.1.1.2", new DERUTF8String("alice@example.org"))),
                "wrong OID");
        assertEquals(Optional.empty(), user(ca.leaf("c").user("x".repeat(1020) + "@example.org")), "over 1024 bytes");
    }

    @Test
    void emptyUserIsReturnedAndFailsAtTheNameService() {
        assertEquals(Optional.of(""), user(ca.leaf("c").user("@example.org")));
        assertEquals(Optional.empty(), new NameService(1000).lookup(""));
    }

    @Test
    void theFirstQualifyingOtherNameWins() {
        assertEquals(Optional.of("bob"), user(ca.leaf("c").user("carol@example.com").user("bob@example.org").user("alice@example.org")));
    }

    @Test
    void nameServiceSeesSystemUsers() {
        NameService ns = new NameService(1000);
        NameService.User root = ns.lookup("root").orElseThrow();
        assertEquals(0, root.uid());
        assertEquals(0, root.gids()[0], "primary gid first");
        assertEquals(Optional.empty(), ns.lookup("no-such-user-rpctls"));
        assertEquals(Optional.empty(), ns.lookup("-rf"), "never passed to a command as an option");
    }

    @Test
    void aUserInMoreThan1024GroupsIsNotMappedAndOneIn1024Is() throws Exception {
        // the name service's answers from a test directory: making 1,025 real groups took minutes
        for (int n : new int[] {1024, 1025}) {
            StringBuilder gids = new StringBuilder();
            for (int g = 0; g < n; g++) {
                gids.append(70000 + g).append(' ');
            }
            NameService ns = new NameService(1000, new NameService.Directory() {
                @Override
                public String passwd(String name) {
                    return name + ":x:4321:70000:Many Groups:/home/many:/bin/sh\n";
                }

                @Override
                public String groups(String name) {
                    return gids.toString();
                }
            });
            try (org.rpctlsservd.support.LogCapture log = org.rpctlsservd.support.LogCapture.daemon()) {
                Optional<NameService.User> u = ns.lookup("many");
                if (n == 1024) {
                    assertEquals(1024, u.orElseThrow().gids().length, "NGROUPS groups map");
                    assertEquals(70000, u.get().gids()[0], "primary gid first");
                } else {
                    assertEquals(Optional.empty(), u, "more than NGROUPS: no mapping");
                    org.junit.jupiter.api.Assertions.assertTrue(log.has("user many is in 1025 groups, more than 1024: not mapped"),
                            log.lines().toString());
                }
            }
        }
    }
}
