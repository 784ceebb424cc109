package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;

/**
 * The pidfile is the lock against a second instance: a daemon that cannot have it does not start
 * (unless told --no-pidfile), and monitors that are not root can read the pid in it.
 */
class PidFileTest {
    @TempDir
    Path tmp;

    /** The daemon's command with its private socket, unregistered, so nothing of the host's is touched. */
    private List<String> daemon(String... more) {
        List<String> a = new ArrayList<>(List.of("--throwaway-cert", "--no-rpcbind", "--rpc-address", "127.0.0.1:0",
                "--rpc-socket", tmp.resolve("s.sock").toString()));
        a.addAll(List.of(more));
        return ProcessTest.java(a.toArray(new String[0]));
    }

    @Test
    void aPidfileThatCannotBeCreatedStopsTheStartInTheForegroundAndBeforeDetaching() throws Exception {
        Path missing = tmp.resolve("no-such-dir").resolve("d.pid");
        String says = "cannot create the pidfile " + missing + " (--pidfile): no such directory;"
                + " name a writable place with --pidfile, or run without one with --no-pidfile";

        Commands.Result fg = Commands.run(60, daemon("-d", "--pidfile", missing.toString()).toArray(new String[0]));
        assertEquals(1, fg.status(), fg.output());
        assertTrue(fg.output().contains(says), fg.output());
        assertFalse(fg.output().contains("serving RPCTLSSD"), "it never served: " + fg.output());

        Commands.Result detached = Commands.run(60, daemon("--pidfile", missing.toString()).toArray(new String[0]));
        assertEquals(1, detached.status(), "refused on the terminal, before detaching: " + detached.output());
        assertEquals("rpc.tlsservd: " + says + "\n", ProcessTest.withoutWarnings(detached.output()));
        assertFalse(Files.exists(missing.getParent()));
    }

    @Test
    void noPidfileRunsWithoutOneWhateverPidfileSays() throws Exception {
        Path pid = tmp.resolve("ignored.pid");
        Path log = tmp.resolve("d.log");
        Process p = Commands.startLogged(daemon("-d", "--pidfile", pid.toString(), "--no-pidfile"), log, java.util.Map.of());
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start: " + ProcessTest.read(log), 30);
            assertFalse(Files.exists(pid), "no pidfile was made");
        } finally {
            p.destroy();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        }
        assertEquals(0, p.exitValue(), ProcessTest.read(log));
    }

    @Test
    void thePidfileIsReadableByMonitorsAndWritableOnlyByItsOwner() throws Exception {
        Path pid = tmp.resolve("d.pid");
        Path log = tmp.resolve("d.log");
        Process p = Commands.startLogged(daemon("-d", "--pidfile", pid.toString()), log, java.util.Map.of());
        try {
            Await.until(() -> ProcessTest.read(log).contains("serving RPCTLSSD"), "the daemon to start: " + ProcessTest.read(log), 30);
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(pid)));
            // An unprivileged monitor (nobody) reads the pid: the test's directory is made passable for it first.
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
            Commands.Result cat = Commands.run(20, "runuser", "-u", "nobody", "--", "cat", pid.toString());
            assertEquals(0, cat.status(), cat.output());
            assertEquals(p.pid() + "\n", cat.output());
        } finally {
            p.destroy();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        }
    }
}
