package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Commands;
import org.rpctlsservd.support.DaemonProcess;

/** rpc.tlsclntd as an administrator starts it, through tools/rpc.tlsclntd on the packaged jar. */
class ClientDaemonIT {
    /** RPCTLSCD, 0x40677374. */
    private static final String RPCTLSCD = "1080521588";

    @TempDir
    Path tmp;

    private static String rpcinfo() throws Exception {
        return Commands.run(20, "rpcinfo", "-p", "127.0.0.1").output();
    }

    private Commands.Result launcher(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of("tools", "rpc.tlsclntd").toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        return Commands.run(60, cmd.toArray(new String[0]));
    }

    @Test
    void registersWritesItsPidfileAndCleansUpOnSigterm() throws Exception {
        Path pid = tmp.resolve("c.pid");
        Path sock = tmp.resolve("c.sock");
        DaemonProcess d = DaemonProcess.startClient(tmp, List.of("-Xmx128m"), "-d", "--pidfile", pid.toString(), "--rpc-socket",
                sock.toString());
        try {
            assertEquals(d.pid() + "\n", Files.readString(pid));
            assertTrue(Files.exists(sock), "the RPCTLSCD socket");
            String listing = rpcinfo();
            assertTrue(listing.matches("(?s).*" + RPCTLSCD + "\\s+2\\s+tcp.*"), listing);
            assertTrue(d.log().contains("serving RPCTLSCD (" + RPCTLSCD + ") version 2"), d.log());
            // the NULL procedure answers, through rpcbind as rpcinfo finds it
            Commands.Result ping = Commands.run(20, "rpcinfo", "-t", "127.0.0.1", RPCTLSCD, "2");
            assertEquals(0, ping.status(), ping.output());

            Commands.Result second = launcher("-d", "--pidfile", pid.toString(), "--rpc-socket", tmp.resolve("c2.sock").toString());
            assertEquals(1, second.status());
            assertTrue(second.output().contains("rpc.tlsclntd: rpctlscd already running, pid: " + d.pid() + "."), second.output());

            d.process.destroy(); // SIGTERM
            assertTrue(d.process.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, d.process.exitValue(), d.log());
            assertFalse(Files.exists(pid), "pidfile removed");
            assertFalse(Files.exists(sock), "socket removed");
            assertFalse(rpcinfo().contains(RPCTLSCD), "unregistered");
        } finally {
            d.process.destroyForcibly();
            d.process.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void helpVersionAndFreeBsdsMessage() throws Exception {
        Commands.Result help = launcher("--help");
        assertEquals(0, help.status(), help.output());
        assertTrue(help.output().startsWith("usage: rpc.tlsclntd [-2/--usetls1_2]"), help.output());
        assertTrue(help.output().contains("--connect"), help.output());
        Commands.Result version = launcher("--version");
        assertEquals(0, version.status());
        assertTrue(version.output().startsWith("rpc.tlsclntd "), version.output());
        Commands.Result crl = launcher("-d", "-r", "/nonexistent.crl");
        assertEquals(1, crl.status());
        assertEquals("rpc.tlsclntd: -r requires the -l <CAfile> and/or -p <CApath> options\n", crl.output());
    }
}
