package org.rpctlsservd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.FrontEndFixture;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;
import org.rpctlsservd.support.TlsHarness;

/**
 * docs/architecture.md's threading map names the threads the code really gives: every thread a live
 * daemon (front end, metrics, a handshake done, a reload) starts matches a name in the map, and
 * every name in the map is seen live or is a string literal in the main sources.
 */
class ThreadNamesTest {
    static final Path ARCHITECTURE = Path.of("docs/architecture.md");
    static final Path MAIN_SOURCES = Path.of("src/main/java");

    /**
     * Threads that are not ours: the JVM's and JDK's, which may start lazily during the test, and the
     * Prometheus client's scheduler (the library's, for its histograms); docs/architecture.md lists them. Kept
     * short on purpose: a thread of ours with a JDK default name ("pool-1-thread-1", "Thread-3")
     * must fail the test.
     */
    static final Pattern NOT_OURS = Pattern.compile("Reference Handler|Finalizer|Signal Dispatcher|Common-Cleaner"
            + "|Notification Thread|Attach Listener|process reaper|C[12] CompilerThread\\d+|Sweeper thread"
            + "|ForkJoinPool\\.commonPool-worker-\\d+|prometheus-metrics-scheduler-\\d+|Native reference cleanup thread");

    @RegisterExtension
    static final FrontEndFixture FX = new FrontEndFixture("Thread Names CA");

    @TempDir
    Path tmp;

    /** The map's names as written, each with the pattern it stands for (placeholders N, PORT, SOCKET). */
    static Map<String, Pattern> mapNames() throws IOException {
        String doc = Files.readString(ARCHITECTURE, StandardCharsets.UTF_8);
        int start = doc.indexOf("\n## Threads\n");
        assertTrue(start >= 0, "docs/architecture.md has a Threads section");
        int end = doc.indexOf("\n## ", start + 5);
        Map<String, Pattern> out = new LinkedHashMap<>();
        for (String line : doc.substring(start, end < 0 ? doc.length() : end).split("\n")) {
            if (!line.startsWith("| `")) {
                continue; // only the table's rows
            }
            // The first cell's names; what stands in parentheses there is a remark, not a name.
            String cell = line.substring(1, line.indexOf('|', 1)).replaceAll("\\([^)]*\\)", "");
            Matcher m = Pattern.compile("`([^`]+)`").matcher(cell);
            while (m.find()) {
                out.put(m.group(1), Pattern.compile(toRegex(m.group(1))));
            }
        }
        return out;
    }

    /** {@code frontend-io-N} → {@code frontend-io-\d+}; a placeholder stands only at the end. */
    static String toRegex(String name) {
        Matcher m = Pattern.compile("^(.*?)(N|PORT|SOCKET)?$").matcher(name);
        m.matches();
        String tail = m.group(2) == null ? "" : m.group(2).equals("SOCKET") ? "\\S+" : "\\d+";
        return Pattern.quote(m.group(1)) + tail;
    }

    /** The name's fixed part as it must begin a string literal in the code: {@code "frontend-io-}. */
    static String literalStem(String name) {
        String stem = name.replaceFirst("(N|PORT|SOCKET)$", "");
        return "\"" + stem + (stem.equals(name) ? "\"" : "");
    }

    static String mainSources() throws IOException {
        try (Stream<Path> files = Files.walk(MAIN_SOURCES)) {
            return files.filter(p -> p.toString().endsWith(".java")).map(p -> {
                try {
                    return Files.readString(p, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).collect(Collectors.joining("\n"));
        }
    }

    static Set<Thread> liveThreads() {
        return new HashSet<>(Thread.getAllStackTraces().keySet());
    }

    @Test
    void theThreadingMapNamesEveryThreadTheDaemonStartsAndNoOther() throws Exception {
        Map<String, Pattern> map = mapNames();
        assertTrue(map.size() >= 10, "the map lists the thread kinds: " + map.keySet());
        // Threads of the test's JVM and its backend, there before the daemon: not the daemon's.
        Set<Thread> before = liveThreads();
        Set<String> started = new TreeSet<>();
        try (FrontEndHarness h = FX.frontEnd(tmp, "--metrics", "127.0.0.1:0")) {
            try (RawRpc c = h.tls(TlsHarness.jdkClient(FX.client, FX.ca, "TLSv1.3"))) {
                c.send(FrontEndHarness.whoami(1, FrontEndHarness.authNone()).bytes());
                assertEquals(0, c.read().stat, "a call relayed over TLS: the handshake workers have run");
            }
            h.daemon.reload(); // the reload thread is made at the first SIGHUP
            Await.until(() -> h.daemon.reloads() >= 1, "the reload done");
            // rpc.tlsclntd with a connector to that front end, its server by name (the look-up thread), one call through it
            org.rpctlsservd.cli.Config cc = new org.rpctlsservd.cli.Cli(org.rpctlsservd.cli.Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org",
                    x -> null).parse(new String[] {"--no-rpcbind", "--no-pidfile", "--rpc-socket", tmp.resolve("cd.sock").toString(),
                            "--connect", "127.0.0.1:0,localhost:" + h.port});
            try (org.rpctlsservd.daemon.Daemon client = org.rpctlsservd.daemon.Daemon.startClient(cc);
                    RawRpc c = new RawRpc(client.frontEnd().addresses().get(0).getPort())) {
                c.send(FrontEndHarness.whoami(2, FrontEndHarness.authNone()).bytes());
                assertEquals(0, c.read().stat, "a call relayed through the connector: its loops and look-up have run");
                for (Thread t : liveThreads()) {
                    if (!before.contains(t)) {
                        started.add(t.getName());
                    }
                }
            }
            for (Thread t : liveThreads()) {
                if (!before.contains(t)) {
                    started.add(t.getName());
                }
            }
        }

        List<String> unmapped = new ArrayList<>();
        for (String name : started) {
            boolean mapped = map.values().stream().anyMatch(p -> p.matcher(name).matches());
            if (!mapped && !NOT_OURS.matcher(name).matches()) {
                unmapped.add(name);
            }
        }
        assertEquals(List.of(), unmapped, "threads the daemon started that docs/architecture.md's map does not name;"
                + " all it started: " + started);
        // The test must see the daemon's kinds, or it would pass on a daemon that started nothing.
        for (String kind : List.of("frontend-io-N", "handshake-N", "rpc-accept-tcp-PORT", "rpc-tcp-PORT", "rpc-udp-PORT",
                "rpc-accept-local-SOCKET", "rpc-local-SOCKET", "rpctlssd-timer", "rpctlssd-reload", "metrics-http", "connector-io-N",
                "connector-lookup")) {
            Pattern p = map.get(kind);
            assertTrue(p != null, "the map names " + kind);
            assertTrue(started.stream().anyMatch(n -> p.matcher(n).matches()), kind + " seen live among " + started);
        }

        Set<String> everLive = new TreeSet<>(started);
        liveThreads().forEach(t -> everLive.add(t.getName()));
        String code = mainSources();
        List<String> unknown = new ArrayList<>();
        for (Map.Entry<String, Pattern> e : map.entrySet()) {
            boolean seen = everLive.stream().anyMatch(n -> e.getValue().matcher(n).matches());
            if (!seen && !code.contains(literalStem(e.getKey()))) {
                unknown.add(e.getKey());
            }
        }
        assertEquals(List.of(), unknown, "names in docs/architecture.md's map that no thread had and no string literal in "
                + MAIN_SOURCES + " gives");
    }
}
