package org.rpctlsservd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** After package: the launcher starts the jar with the class-data archive made beside it, and quietly without a usable one. */
class LauncherIT {
    @TempDir
    Path tmp;

    private static Path jar() throws IOException {
        try (var files = Files.list(Path.of("target"))) {
            return files.filter(f -> f.getFileName().toString().matches("rpc-tlsservd-.*-all\\.jar")).findFirst()
                    .orElseThrow().toAbsolutePath();
        }
    }

    private static String launch(Path jar) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of("tools", "rpc.tlsservd").toAbsolutePath().toString(), "--help")
                .redirectErrorStream(true);
        pb.environment().put("RPCTLSSERVD_JAR", jar.toString());
        pb.environment().put("RPCTLSSERVD_JAVA_OPTS", "-Xlog:class+load=info");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("--io-threads"), "the help text: " + out.lines().filter(l -> !l.startsWith("[")).toList());
        return out;
    }

    @Test
    void theDaemonsClassesComeFromTheArchiveMadeAtPackageTime() throws Exception {
        Path jar = jar();
        Path jsa = Path.of(jar.toString().replaceFirst("\\.jar$", ".jsa"));
        assertTrue(Files.isRegularFile(jsa), "package made " + jsa);
        String out = launch(jar);
        assertTrue(out.contains("org.rpctlsservd.cli.Cli source: shared objects file (top)"),
                out.lines().filter(l -> l.contains("rpctlsservd.cli.Cli ")).toList().toString());
    }

    @Test
    void underAParentThatIgnoresSighupTheLauncherStillGetsReloads() throws Exception {
        org.rpctlsservd.support.TestPki.writeServer(tmp.resolve("certs"),
                org.rpctlsservd.support.TestPki.ca("CA").leaf("server").issue());
        // nohup sets SIGHUP to SIG_IGN and execs the launcher, as an administrator's "nohup rpc.tlsservd -d ... &" would
        try (org.rpctlsservd.support.DaemonProcess d = org.rpctlsservd.support.DaemonProcess.start(tmp.resolve("d"), List.of(),
                List.of("nohup"), "-d", "-D", tmp.resolve("certs").toString(), "--no-rpcbind", "--pidfile", tmp.resolve("d.pid").toString(),
                "--rpc-socket", tmp.resolve("d.sock").toString())) {
            assertEquals(0, org.rpctlsservd.support.Commands.run(10, "kill", "-HUP", String.valueOf(d.pid())).status());
            org.rpctlsservd.support.Await.until(() -> d.log().contains("reloaded the server certificate and key"), "the reload: " + d.log(), 30);
            assertTrue(d.process.isAlive(), "SIGHUP reloads, it does not stop the daemon");
            assertFalse(d.log().contains(Main.HUP_IGNORED), d.log());
        }
    }

    @Test
    void anArchiveThatDoesNotFitIsIgnoredQuietly() throws Exception {
        Path jar = Files.copy(jar(), tmp.resolve("rpc-tlsservd-all.jar"));
        Files.write(tmp.resolve("rpc-tlsservd-all.jsa"), "not an archive".getBytes(StandardCharsets.US_ASCII));
        String out = launch(jar);
        assertFalse(out.contains("shared objects file (top)"));
        List<String> warnings = out.lines().filter(l -> l.contains("[warning]") || l.contains("[error")).toList();
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    /** The budget and heap the daemon says it has, from its start-up line. */
    private static long[] budgetAndHeap(org.rpctlsservd.support.DaemonProcess d) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("memory budget (\\d+) MiB \\(--memory-budget\\) of a (\\d+) MiB heap")
                .matcher(d.log());
        assertTrue(m.find(), d.log());
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    @Test
    void theLauncherSizesTheHeapFromTheMemoryBudgetNotFromTheMachinesMemory() throws Exception {
        List<String> own = List.of("-d", "--throwaway-cert", "--no-rpcbind", "--pidfile", tmp.resolve("d.pid").toString(),
                "--rpc-socket", tmp.resolve("d.sock").toString());
        // no budget given: a 512 MiB heap, of which the daemon takes half (the machine has 24 GiB: a quarter would be 6)
        try (org.rpctlsservd.support.DaemonProcess d = org.rpctlsservd.support.DaemonProcess.start(tmp.resolve("a"), List.of(),
                List.of(), own.toArray(new String[0]))) {
            long[] bh = budgetAndHeap(d);
            assertTrue(bh[1] > 400 && bh[1] <= 512, "heap " + bh[1] + " MiB");
            assertEquals(bh[1] / 2, bh[0], 1, "budget half the heap");
        }
        // --memory-budget 100 on the command line: twice that and 64 MiB
        List<String> cli = new java.util.ArrayList<>(own);
        cli.addAll(List.of("--memory-budget", "100"));
        try (org.rpctlsservd.support.DaemonProcess d = org.rpctlsservd.support.DaemonProcess.start(tmp.resolve("b"), List.of(),
                List.of(), cli.toArray(new String[0]))) {
            long[] bh = budgetAndHeap(d);
            assertEquals(100, bh[0]);
            assertTrue(bh[1] > 200 && bh[1] <= 264, "heap " + bh[1] + " MiB");
        }
        // in the --config file, as the unit runs it
        Path conf = tmp.resolve("d.conf");
        Files.writeString(conf, "# a budget\nmemory-budget = 40\n");
        List<String> file = new java.util.ArrayList<>(own);
        file.addAll(List.of("--config", conf.toString()));
        try (org.rpctlsservd.support.DaemonProcess d = org.rpctlsservd.support.DaemonProcess.start(tmp.resolve("c"), List.of(),
                List.of(), file.toArray(new String[0]))) {
            long[] bh = budgetAndHeap(d);
            assertEquals(40, bh[0]);
            assertTrue(bh[1] > 100 && bh[1] <= 144, "heap " + bh[1] + " MiB");
        }
        // the administrator's own -Xmx wins
        try (org.rpctlsservd.support.DaemonProcess d = org.rpctlsservd.support.DaemonProcess.start(tmp.resolve("e"), List.of("-Xmx96m"),
                List.of(), cli.toArray(new String[0]))) {
            long[] bh = budgetAndHeap(d);
            assertTrue(bh[1] > 64 && bh[1] <= 96, "heap " + bh[1] + " MiB");
            assertTrue(d.log().contains("it may run out of heap before the budget sheds anyone"), d.log());
        }
    }
}
