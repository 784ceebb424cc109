package org.rpctlsservd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.Commands;

/**
 * The Debian package that {@code package} made, for real on this machine (as root, as the other
 * tests run): lintian finds no error, it installs with dpkg, the installed command and unit work,
 * and a purge leaves nothing behind, not even the link of an enabled unit.
 */
class PackageIT {
    static final String VERSION = System.getProperty("rpctlsservd.version");
    static final Path DEB = Path.of("target", "rpc-tlsservd_" + VERSION + "_all.deb");
    static final Path UNIT = Path.of("/lib/systemd/system/rpc-tlsservd.service");

    static Commands.Result run(String... cmd) throws Exception {
        return Commands.run(300, cmd);
    }

    @Test
    void installsWorksAndPurgesClean() throws Exception {
        assertTrue(Files.isRegularFile(DEB), "the package " + DEB);
        Commands.Result lint = run("lintian", "--tag-display-limit", "0", DEB.toString());
        for (String line : lint.output().split("\n")) {
            assertFalse(line.startsWith("E: "), "lintian error: " + line + "\n" + lint.output());
        }

        if (run("dpkg", "-s", "rpc-tlsservd").status() == 0) {
            run("dpkg", "--purge", "rpc-tlsservd"); // left by an earlier run that was killed
        }
        Commands.Result install = run("dpkg", "-i", DEB.toString());
        try {
            assertEquals(0, install.status(), install.output());
            List<String> files = new ArrayList<>();
            for (String f : run("dpkg", "-L", "rpc-tlsservd").output().split("\n")) {
                if (!f.isBlank()) {
                    files.add(f);
                }
            }
            assertTrue(files.contains("/usr/sbin/rpc.tlsservd"), files.toString());
            assertTrue(files.contains("/usr/share/rpc-tlsservd/rpc-tlsservd-all.jar"), files.toString());
            assertTrue(files.contains("/usr/share/man/man8/rpc.tlsservd.8.gz"), files.toString());
            assertEquals("/etc/rpc-tlsservd/rpc-tlsservd.conf\n",
                    Files.readString(Path.of("/var/lib/dpkg/info/rpc-tlsservd.conffiles")), "the example config is a conffile");

            Commands.Result version = run("/usr/sbin/rpc.tlsservd", "--version");
            assertEquals(0, version.status(), version.output());
            assertEquals("rpc.tlsservd " + VERSION + "\n", version.output());

            Commands.Result verify = run("systemd-analyze", "verify", UNIT.toString());
            assertEquals(0, verify.status(), verify.output());
            assertEquals("", verify.output().strip(), "systemd-analyze has nothing to say about the unit");

            // The shipped configuration (all commented out) is valid; the check runs as the unit's ExecStartPre would.
            Commands.Result check = run("/usr/sbin/rpc.tlsservd", "--config", "/etc/rpc-tlsservd/rpc-tlsservd.conf",
                    "--throwaway-cert", "--check");
            assertEquals(0, check.status(), check.output());
            Commands.Result man = run("mandoc", "-Tlint", "-W", "warning", "/usr/share/man/man8/rpc.tlsservd.8.gz");
            assertEquals(0, man.status(), man.output());

            Commands.Result enable = run("systemctl", "enable", "rpc-tlsservd.service");
            assertEquals(0, enable.status(), enable.output());
            assertTrue(Files.exists(Path.of("/etc/systemd/system/multi-user.target.wants/rpc-tlsservd.service"), java.nio.file.LinkOption.NOFOLLOW_LINKS));

            Commands.Result purge = run("dpkg", "--purge", "rpc-tlsservd");
            assertEquals(0, purge.status(), purge.output());
            for (String f : files) {
                Path p = Path.of(f);
                boolean shared = Files.isDirectory(p) && !f.contains("rpc-tlsservd") && !f.contains("rpc.tlsservd");
                assertTrue(shared || !Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS), "left behind: " + f);
            }
            assertFalse(Files.exists(Path.of("/etc/rpc-tlsservd")), "the config directory is gone");
            assertFalse(Files.exists(Path.of("/etc/systemd/system/multi-user.target.wants/rpc-tlsservd.service"),
                    java.nio.file.LinkOption.NOFOLLOW_LINKS), "the enablement link is gone");
            assertTrue(run("dpkg", "-s", "rpc-tlsservd").status() != 0, "dpkg knows nothing of it any more");
        } finally {
            if (run("dpkg", "-s", "rpc-tlsservd").status() == 0) {
                run("dpkg", "--purge", "rpc-tlsservd");
            }
        }
    }
}
