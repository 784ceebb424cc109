package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.Commands;

/** The daemon as a process: pidfile, second instance, detaching, SIGTERM, embedded portmapper. */
class ProcessTest {
    @TempDir
    Path tmp;

    static List<String> java(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    /** What a start printed, less the warnings its checks give (no --listen, for one: these daemons serve RPCTLSSD only). */
    static String withoutWarnings(String output) {
        return output.lines().filter(l -> !l.startsWith("rpc.tlsservd: warning: ") && !l.matches("\\S+Z WARNING .*")).map(l -> l + "\n")
                .collect(java.util.stream.Collectors.joining());
    }

    static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private Process start(Path log, List<String> cmd) throws IOException {
        return Commands.startLogged(cmd, log, java.util.Map.of());
    }

    private static String rpcinfo() throws Exception {
        return Commands.run(20, "rpcinfo", "-p", "127.0.0.1").output();
    }

    @Test
    void foregroundPidfileSecondInstanceAndSigterm() throws Exception {
        Path pid = tmp.resolve("d.pid");
        Path log = tmp.resolve("d.log");
        Process p = start(log, java("-d", "--throwaway-cert", "--pidfile", pid.toString()));
        try {
            Await.until(() -> read(log).contains("serving RPCTLSSD"), "the daemon to start: " + read(log), 30);
            assertEquals(p.pid() + "\n", read(pid));
            String listing = rpcinfo();
            assertTrue(listing.matches("(?s).*1080521589\\s+2\\s+tcp.*"), listing);
            assertTrue(listing.matches("(?s).*1080521589\\s+2\\s+udp.*"), listing);

            Commands.Result second = Commands.run(30, java("-d", "--throwaway-cert", "--pidfile", pid.toString()).toArray(new String[0]));
            assertEquals(1, second.status());
            assertEquals("rpc.tlsservd: rpctlssd already running, pid: " + p.pid() + ".\n", withoutWarnings(second.output()));

            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), read(log));
            assertFalse(Files.exists(pid), "pidfile removed");
            assertFalse(rpcinfo().contains("1080521589"), "unregistered");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void sighupReloadsTheCertificateAndKey() throws Exception {
        org.rpctlsservd.support.TestPki.Ca ca = org.rpctlsservd.support.TestPki.ca("CA");
        org.rpctlsservd.support.TestPki.writeServer(tmp.resolve("certs"), ca.leaf("server").issue());
        Path pid = tmp.resolve("hup.pid");
        Path log = tmp.resolve("hup.log");
        Process p = start(log, java("-d", "-D", tmp.resolve("certs").toString(), "--no-rpcbind", "--pidfile", pid.toString()));
        try {
            Await.until(() -> read(log).contains("serving RPCTLSSD"), "the daemon to start: " + read(log), 30);
            assertEquals(0, Commands.run(10, "kill", "-HUP", String.valueOf(p.pid())).status());
            Await.until(() -> read(log).contains("reloaded the server certificate and key"), "the reload: " + read(log), 30);
            assertTrue(p.isAlive(), "SIGHUP does not stop the daemon");
            p.destroy();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void startedWithSighupIgnoredTheDaemonSaysReloadsWillNotWork() throws Exception {
        org.rpctlsservd.support.TestPki.Ca ca = org.rpctlsservd.support.TestPki.ca("CA");
        org.rpctlsservd.support.TestPki.writeServer(tmp.resolve("certs"), ca.leaf("server").issue());
        Path log = tmp.resolve("nohup.log");
        List<String> cmd = new ArrayList<>(List.of("nohup")); // java itself, not the launcher: SIGHUP stays ignored
        cmd.addAll(java("-d", "-D", tmp.resolve("certs").toString(), "--no-rpcbind", "--pidfile", tmp.resolve("nohup.pid").toString(),
                "--rpc-socket", tmp.resolve("nohup.sock").toString()));
        Process p = start(log, cmd);
        try {
            Await.until(() -> read(log).contains("serving RPCTLSSD"), "the daemon to start: " + read(log), 30);
            List<String> warnings = read(log).lines().filter(l -> l.contains("SIGHUP")).toList();
            assertEquals(1, warnings.size(), read(log));
            assertTrue(warnings.get(0).endsWith("WARNING: " + Main.HUP_IGNORED) || warnings.get(0).endsWith(Main.HUP_IGNORED), warnings.get(0));
            assertTrue(warnings.get(0).contains("env --default-signal=HUP"), "it names the fix");
        } finally {
            p.destroyForcibly();
            p.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void withoutDebugTheDaemonDetaches() throws Exception {
        Path pid = tmp.resolve("bg.pid");
        Commands.Result launched = Commands.run(30, java("--throwaway-cert", "--pidfile", pid.toString()).toArray(new String[0]));
        assertEquals(0, launched.status(), launched.output());
        assertEquals("", withoutWarnings(launched.output()), "a detached daemon prints nothing on the terminal but --check's warnings");
        Await.until(() -> read(pid).endsWith("\n") && rpcinfoQuiet().contains("1080521589"), "the detached daemon to register", 30);
        long daemonPid = Long.parseLong(read(pid).trim());
        ProcessHandle h = ProcessHandle.of(daemonPid).orElseThrow();
        try {
            Commands.Result second = Commands.run(30, java("--throwaway-cert", "--pidfile", pid.toString()).toArray(new String[0]));
            assertEquals(1, second.status());
            assertEquals("rpc.tlsservd: rpctlssd already running, pid: " + daemonPid + ".\n", withoutWarnings(second.output()));
            assertTrue(h.destroy()); // SIGTERM
            h.onExit().get(20, TimeUnit.SECONDS);
            Await.until(() -> !Files.exists(pid), "pidfile removed");
            assertFalse(rpcinfo().contains("1080521589"));
        } finally {
            h.destroyForcibly();
        }
    }

    private static String rpcinfoQuiet() {
        try {
            return rpcinfo();
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void commandLineErrorsFromTheProcess() throws Exception {
        int ncpu = Runtime.getRuntime().availableProcessors();
        String[][] cases = {
            {"-N", "0"}, {"-N", String.valueOf(ncpu + 1)}, {"-m"}, {"-w"},
        };
        String[] messages = {
            "rpc.tlsservd: maximum threads must be between 1 and number of CPUs (" + ncpu + ")\n",
            "rpc.tlsservd: maximum threads must be between 1 and number of CPUs (" + ncpu + ")\n",
            "rpc.tlsservd: -m requires the -l <CAfile> and/or -p <CApath> options\n",
            "rpc.tlsservd: The -w or -W options require the -h option\n",
        };
        for (int i = 0; i < cases.length; i++) {
            Commands.Result r = Commands.run(30, java(cases[i]).toArray(new String[0]));
            assertEquals(1, r.status(), Arrays.toString(cases[i]));
            assertEquals(messages[i], r.output(), Arrays.toString(cases[i]));
        }
        Path empty = Files.createDirectories(tmp.resolve("nocerts"));
        Commands.Result noCert = Commands.run(30, java("-d", "-D", empty.toString(), "--pidfile", tmp.resolve("x.pid").toString())
                .toArray(new String[0]));
        assertEquals(1, noCert.status());
        assertEquals("rpc.tlsservd: " + empty.resolve("cert.pem") + " (--certdir): missing, and so is certkey.pem; make or install"
                + " the server certificate (see rpc.tlsservd.conf(5))\n", noCert.output());
        Commands.Result detachedNoCert = Commands.run(30, java("-D", empty.toString(), "--pidfile", tmp.resolve("x.pid").toString())
                .toArray(new String[0]));
        assertEquals(1, detachedNoCert.status(), "checked before detaching");
        assertEquals(noCert.output(), detachedNoCert.output());
        Commands.Result badSuite = Commands.run(30, java("-d", "--throwaway-cert", "-C", "TLS_AES_128_GCM_SHA256:BOGUS",
                "--pidfile", tmp.resolve("x.pid").toString()).toArray(new String[0]));
        assertEquals(1, badSuite.status());
        assertEquals("rpc.tlsservd: Can't create SSL context: SSL_CTX_set_ciphersuites failed: unknown TLS 1.3 cipher suite BOGUS\n",
                badSuite.output());
        Commands.Result help = Commands.run(30, java("--help").toArray(new String[0]));
        assertEquals(0, help.status());
        assertTrue(help.output().startsWith("usage: rpc.tlsservd [-2/--allowtls1_2]"), help.output());
    }

    @Test
    void embeddedPortmapperWhereNoRpcbindRuns() throws Exception {
        // A network namespace of its own: loopback only, nothing on port 111.
        Path pid = tmp.resolve("ns.pid");
        Path log = tmp.resolve("ns.log");
        List<String> inner = java("-d", "--throwaway-cert", "--pidfile", pid.toString());
        List<String> cmd = new ArrayList<>(List.of("unshare", "-n", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""));
        cmd.addAll(inner);
        Process p = start(log, cmd);
        try {
            Await.until(() -> read(log).contains("serving RPCTLSSD"), "the daemon to start: " + read(log), 30);
            assertTrue(read(log).contains("no rpcbind runs: started an embedded portmapper on 127.0.0.1:111"), read(log));
            String ns = String.valueOf(p.pid());
            Commands.Result listing = Commands.run(20, "nsenter", "-t", ns, "-n", "rpcinfo", "-p", "127.0.0.1");
            assertTrue(listing.output().matches("(?s).*100000\\s+2\\s+tcp\\s+111.*"), listing.output());
            assertTrue(listing.output().matches("(?s).*1080521589\\s+2\\s+tcp.*"), listing.output());
            assertTrue(listing.output().matches("(?s).*1080521589\\s+2\\s+udp.*"), listing.output());
            for (String proto : new String[] {"tcp", "udp"}) {
                Commands.Result r = Commands.run(20, "nsenter", "-t", ns, "-n", "rpcinfo", "-T", proto, "127.0.0.1", "1080521589", "2");
                assertTrue(r.output().contains("program 1080521589 version 2 ready and waiting"), r.output());
            }
            // bound to loopback only
            Commands.Result ss = Commands.run(20, "nsenter", "-t", ns, "-n", "ss", "-lntuH");
            for (String line : ss.output().split("\n")) {
                if (!line.isBlank()) {
                    assertTrue(line.matches(".*\\b127\\.0\\.0\\.1\\]?:\\d+.*"), "listening beyond loopback: " + line);
                }
            }
            p.destroy();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), read(log));
        } finally {
            p.destroyForcibly();
        }
    }
}
