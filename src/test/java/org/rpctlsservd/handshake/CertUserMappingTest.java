package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.LogCapture;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

/**
 * -u with a real local user, created for the test with useradd (the tests run as root): the
 * otherName maps to that user's uid and gids, primary gid first, as getent and id see them.
 */
class CertUserMappingTest {
    static final String USER = "rpctlsalice";
    static final String[] GROUPS = {"rpctlsg1", "rpctlsg2", "rpctlsg3"};
    static int uid;
    static int[] gids;

    @TempDir
    Path tmp;

    @BeforeAll
    static void createUser() throws Exception {
        removeUser();
        for (String g : GROUPS) {
            Commands.Result r = Commands.run(30, "groupadd", g);
            assertEquals(0, r.status(), "groupadd (the tests need root): " + r.output());
        }
        Commands.Result r = Commands.run(30, "useradd", "-M", "-N", "-g", GROUPS[0], "-G", GROUPS[1] + "," + GROUPS[2], USER);
        assertEquals(0, r.status(), r.output());
        uid = Integer.parseInt(Commands.run(30, "id", "-u", USER).output().trim());
        int primary = Integer.parseInt(Commands.run(30, "getent", "group", GROUPS[0]).output().split(":")[2]);
        int g2 = Integer.parseInt(Commands.run(30, "getent", "group", GROUPS[1]).output().split(":")[2]);
        int g3 = Integer.parseInt(Commands.run(30, "getent", "group", GROUPS[2]).output().split(":")[2]);
        gids = new int[] {primary, g2, g3};
    }

    @AfterAll
    static void removeUser() throws Exception {
        Commands.run(30, "userdel", USER);
        for (String g : GROUPS) {
            Commands.run(30, "groupdel", g);
        }
    }

    @Test
    void otherNameMapsToTheUsersUidAndGids() throws Exception {
        TestPki.Ca ca = TestPki.ca("CA");
        TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
        TestPki.Issued alice = ca.leaf("alice").dns("localhost").user(USER + "@Example.ORG").issue();
        TestPki.Issued aliceElsewhere = ca.leaf("alice2").dns("nfs.example.org").user(USER + "@example.org").issue();
        TestPki.Issued nobodyKnown = ca.leaf("ghost").dns("localhost").user("rpctlsghost@example.org").issue();
        TestPki.Issued wrongDomain = ca.leaf("alice3").dns("localhost").user(USER + "@example.com").issue();
        Path caFile = Files.writeString(tmp.resolve("ca.pem"), TestPki.pem(ca.cert()));
        try (LogCapture log = LogCapture.daemon();
                TlsHarness h = new TlsHarness(tmp, ca, server, "-m", "-l", caFile.toString(), "-u", "-h", "-n", "example.org")) {
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(alice, ca, "TLSv1.3"));
            assertEquals(0x2B, a.flags());
            assertEquals(uid, a.result().uid);
            assertArrayEquals(gids, a.result().gid, "primary gid first, then the others");
            assertTrue(log.has("mapped user=" + USER + " ngrps=3 uid=" + uid), log.lines().toString());
            assertTrue(log.find("result=ok").contains(" flags=0x2b(handshake,gotcert,verified,certuser) uid=" + uid), log.find("result=ok"));

            TlsHarness.Attempt disabled = h.attempt(TlsHarness.jdkClient(aliceElsewhere, ca, "TLSv1.3"));
            assertEquals(0x3B, disabled.flags(), "mapped, but the host check failed");

            assertEquals(0x0B, h.attempt(TlsHarness.jdkClient(nobodyKnown, ca, "TLSv1.3")).flags(), "unknown user");
            TlsHarness.Attempt wrong = h.attempt(TlsHarness.jdkClient(wrongDomain, ca, "TLSv1.3"));
            assertEquals(0x0B, wrong.flags(), "wrong domain");
            assertEquals(0, wrong.result().uid);
            assertEquals(0, wrong.result().gid.length);
        }
    }
}
