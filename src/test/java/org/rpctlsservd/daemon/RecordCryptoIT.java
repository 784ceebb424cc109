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
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.DaemonProcess;

/**
 * After package, the daemon as it ships (launcher, runnable jar): where its AES-GCM records are
 * protected, said once it serves (the native provider loads after READY=1), and
 * -Drpctlsservd.recordCrypto as an administrator would give it in RPCTLSSERVD_JAVA_OPTS.
 */
class RecordCryptoIT {
    private static final String LINE = "record protection: AES-GCM on ";

    @TempDir
    Path tmp;

    private String[] args(String name) {
        return new String[] {"-d", "--throwaway-cert", "--no-rpcbind", "--pidfile", tmp.resolve(name + ".pid").toString(),
                "--rpc-socket", tmp.resolve(name + ".sock").toString()};
    }

    /** The daemon's log once it said where AES-GCM runs; that line comes after the one saying it serves. */
    private static String choiceLogged(DaemonProcess d) {
        Await.until(() -> d.log().contains(LINE), "the record protection line: " + d.log(), 60);
        String log = d.log();
        assertTrue(log.indexOf(DaemonProcess.SERVING) < log.indexOf(LINE), "said after it serves: " + log);
        return log;
    }

    /** Whether the daemon's process has AWS-LC's library (the native provider's) mapped, as /proc shows it. */
    private static boolean nativeLibraryMapped(DaemonProcess d) throws Exception {
        return Files.readString(Path.of("/proc", String.valueOf(d.pid()), "maps")).contains("amazonCorrettoCryptoProvider");
    }

    @Test
    void asItShipsAesGcmRecordsGoOnTheAmazonCorrettoCryptoProvider() throws Exception {
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("auto"), List.of(), List.of(), args("auto"))) {
            String log = choiceLogged(d);
            assertTrue(log.matches("(?s).*" + LINE + "AmazonCorrettoCryptoProvider 2\\.5\\.0 \\(AWS-LC [^)]+\\); "
                    + "ChaCha20-Poly1305 on SunJCE; TLS 1\\.3 AES-GCM and ChaCha20-Poly1305 records sealed and opened on OpenSSL 3[^,\n]*, in direct buffers\n.*"), log);
            assertTrue(nativeLibraryMapped(d), "its native library is loaded");
            assertTrue(nativeSealingMapped(d), "and the native sealing's");
            assertTrue(d.process.isAlive(), log);
        }
    }

    /** Whether the native sealing's library (src/main/c) is mapped: its copy, deleted once loaded. */
    private static boolean nativeSealingMapped(DaemonProcess d) throws Exception {
        return Files.readString(Path.of("/proc", String.valueOf(d.pid()), "maps")).contains("rpctlsservd-nativegcm.");
    }

    /** The native sealing's copies of its library in {@code dir}. */
    private static long sealingCopiesIn(Path dir) throws Exception {
        try (var found = Files.list(dir)) {
            return found.filter(f -> f.getFileName().toString().startsWith("rpctlsservd-nativegcm.")).count();
        }
    }

    /** The native provider's loader leaves a copy of its library (10 MB) in the temporary directory when its JVM is stopped inside the load. */
    private static long copiesIn(Path dir) throws Exception {
        try (var found = Files.list(dir)) {
            return found.filter(f -> f.getFileName().toString().startsWith("amazonCorrettoCryptoProviderNativeLibraries.")).count();
        }
    }

    @Test
    void stoppedAsSoonAsItServesItLeavesNoCopyOfTheNativeLibraryBehind() throws Exception {
        Path tmpdir = Files.createDirectories(tmp.resolve("java-tmp"));
        int insideTheLoad = 0;
        for (int i = 0; i < 3; i++) { // the stop lands inside the background load (before the wait, every one left a copy)
            String[] a = java.util.stream.Stream.concat(java.util.Arrays.stream(args("quick" + i)), java.util.stream.Stream.of("--log-level", "debug"))
                    .toArray(String[]::new);
            try (DaemonProcess d = DaemonProcess.start(tmp.resolve("quick" + i), List.of("-Djava.io.tmpdir=" + tmpdir), List.of(), a)) {
                assertEquals(0, d.terminate(30), d.log());
                insideTheLoad += d.log().contains("stop: the native crypto provider's background load called off") ? 1 : 0;
                assertEquals(0, copiesIn(tmpdir), "no copy left after stop " + i + ": " + d.log());
                assertEquals(0, sealingCopiesIn(tmpdir), "nor of the native sealing's library after stop " + i + ": " + d.log());
                assertFalse(d.log().contains("may be left in"), d.log());
            }
        }
        assertTrue(insideTheLoad > 0, "at least one stop came while the load ran, as the test means");
    }

    @Test
    void aStartRemovesTheCopiesThatKilledProcessesLeftAndKeepsARecentOne() throws Exception {
        Path tmpdir = Files.createDirectories(tmp.resolve("java-tmp"));
        Path stale = Files.createDirectory(tmpdir.resolve("amazonCorrettoCryptoProviderNativeLibraries.00112233deadbeef"));
        Files.write(stale.resolve("libamazonCorrettoCryptoProvider.so"), new byte[4096]); // as a SIGKILL leaves it: partly copied
        Files.setLastModifiedTime(stale, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(3600)));
        Path recent = Files.createDirectory(tmpdir.resolve("amazonCorrettoCryptoProviderNativeLibraries.44556677deadbeef"));
        Files.write(recent.resolve("libamazonCorrettoCryptoProvider.so"), new byte[4096]);
        Path staleSealing = Files.write(tmpdir.resolve("rpctlsservd-nativegcm.1234.so"), new byte[4096]);
        Files.setLastModifiedTime(staleSealing, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(3600)));
        Path recentSealing = Files.write(tmpdir.resolve("rpctlsservd-nativegcm.5678.so"), new byte[4096]);
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("sweep"), List.of("-Djava.io.tmpdir=" + tmpdir), List.of(),
                args("sweep"))) {
            String log = choiceLogged(d);
            assertTrue(log.contains(LINE + "AmazonCorrettoCryptoProvider"), log);
            assertFalse(Files.exists(stale), "the stale copy is gone");
            assertTrue(Files.exists(recent.resolve("libamazonCorrettoCryptoProvider.so")), "one another JVM may be loading now is kept");
            assertEquals(1, copiesIn(tmpdir), "and the daemon's own copy is deleted once loaded");
            assertFalse(Files.exists(staleSealing), "the native sealing's stale copy is gone");
            assertTrue(Files.exists(recentSealing), "a recent one is kept");
            assertEquals(1, sealingCopiesIn(tmpdir), "and its own copy is deleted once loaded");
            assertTrue(nativeSealingMapped(d), log);
        }
    }

    @Test
    void withRecordCryptoJdkTheyGoOnSunJceAndTheNativeProviderIsNotLoaded() throws Exception {
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("jdk"), List.of("-Drpctlsservd.recordCrypto=jdk"), List.of(),
                args("jdk"))) {
            String log = choiceLogged(d);
            assertTrue(log.contains(LINE + "SunJCE (-Drpctlsservd.recordCrypto=jdk); ChaCha20-Poly1305 on SunJCE; "
                    + "TLS 1.3 AES-GCM records on the JCE provider (-Drpctlsservd.recordCrypto=jdk)\n"), log);
            assertFalse(log.contains("AmazonCorrettoCryptoProvider"), log);
            assertFalse(nativeLibraryMapped(d), "its native library is not loaded");
            assertFalse(nativeSealingMapped(d), "nor the native sealing's");
        }
    }

    @Test
    void withNativeRecordsOffRecordsStayOnTheNativeProviderAndTheNativeSealingIsNotLoaded() throws Exception {
        try (DaemonProcess d = DaemonProcess.start(tmp.resolve("off"), List.of("-Drpctlsservd.nativeRecords=off"), List.of(),
                args("off"))) {
            String log = choiceLogged(d);
            assertTrue(log.contains("; TLS 1.3 AES-GCM records on the JCE provider (-Drpctlsservd.nativeRecords=off)\n"), log);
            assertTrue(log.contains(LINE + "AmazonCorrettoCryptoProvider"), log);
            assertFalse(nativeSealingMapped(d), "the native sealing is not loaded");
        }
    }

    @Test
    void aBadRecordCryptoValueStopsTheStartWithStatusOneAndSaysWhatIsAllowed() throws Exception {
        Path dir = tmp.resolve("bogus");
        Process p = DaemonProcess.launch(dir, List.of("-Drpctlsservd.recordCrypto=bogus"), List.of(), args("bogus"));
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the daemon stops at once");
            String log = Files.readString(dir.resolve("daemon.log"));
            assertEquals(1, p.exitValue(), log);
            assertTrue(log.contains("-Drpctlsservd.recordCrypto=bogus: the values are auto and jdk"), log);
            assertFalse(log.contains(DaemonProcess.SERVING), "it never served: " + log);
            assertFalse(Files.exists(tmp.resolve("bogus.pid")), "its pid file is gone");
            assertFalse(Files.exists(tmp.resolve("bogus.sock")), "no RPC socket was made");
        } finally {
            p.destroyForcibly();
        }
    }

    /** Without -d the daemon detaches: the child it starts keeps the setting (and refuses a bad one before detaching, on the terminal). */
    @Test
    void detachedTheChildKeepsTheSettingAndABadOneIsRefusedBeforeDetaching() throws Exception {
        String[] detached = java.util.Arrays.stream(args("detached")).filter(a -> !a.equals("-d")).toArray(String[]::new);
        Process p = DaemonProcess.launch(tmp.resolve("detached"), List.of("-Drpctlsservd.recordCrypto=jdk"), List.of(), detached);
        Path pidFile = tmp.resolve("detached.pid");
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the parent returns once the child is started");
            assertEquals(0, p.exitValue());
            Await.until(() -> {
                try {
                    return Files.exists(pidFile) && !Files.readString(pidFile).isBlank();
                } catch (java.io.IOException e) {
                    return false;
                }
            }, "the detached daemon's pid file", 60);
            long child = Long.parseLong(Files.readString(pidFile).trim());
            String cmdline = Files.readString(Path.of("/proc", String.valueOf(child), "cmdline")).replace('\0', ' ');
            assertTrue(cmdline.contains("-Drpctlsservd.recordCrypto=jdk"), cmdline);
            ProcessHandle.of(child).ifPresent(h -> {
                h.destroy();
                h.onExit().orTimeout(30, TimeUnit.SECONDS).join();
            });
        } finally {
            p.destroyForcibly();
        }
        for (String[] a : List.of(detached, new String[] {"--check", "--throwaway-cert"})) {
            Path dir = tmp.resolve("refused" + a.length);
            Process bad = DaemonProcess.launch(dir, List.of("-Drpctlsservd.recordCrypto=bogus"), List.of(), a);
            try {
                assertTrue(bad.waitFor(60, TimeUnit.SECONDS));
                String out = Files.readString(dir.resolve("daemon.log"));
                assertEquals(1, bad.exitValue(), out);
                assertTrue(out.contains("-Drpctlsservd.recordCrypto=bogus: the values are auto and jdk"), out);
            } finally {
                bad.destroyForcibly();
            }
        }
    }
}
