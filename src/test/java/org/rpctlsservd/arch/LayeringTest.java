package org.rpctlsservd.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.certs.NameService;
import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.sessions.SessionTable;

/**
 * The layering of the main code (not the tests), as the package-infos state it: which package of
 * ours each package may use. {@link #MAY_USE} is the one list; every package-info's "May use:"
 * line must say the same.
 */
class LayeringTest {
    private static final String ROOT = "org.rpctlsservd";
    /** jrpcgen's classes from src/main/x/rpctlssd.x (pom.xml's packageName): the wire types and constants. */
    private static final String GEN = "rpc.gen";

    /** Package (below org.rpctlsservd) to the packages of ours it may use. Nothing may use daemon. */
    static final Map<String, Set<String>> MAY_USE = new TreeMap<>(Map.ofEntries(
            Map.entry("guard", Set.of()),
            Map.entry("proxy", Set.of()),
            Map.entry("sessions", Set.of()),
            Map.entry("records", Set.of()),
            Map.entry(GEN, Set.of()),
            Map.entry("io", Set.of("guard")),
            Map.entry("certs", Set.of("guard")),
            Map.entry("metrics", Set.of("guard", "io")),
            Map.entry("rpc", Set.of("guard", "io", "metrics")),
            Map.entry("rpcbind", Set.of("rpc")),
            Map.entry("handshake", Set.of("certs", "guard", "io", "metrics", "records", GEN, "sessions")),
            Map.entry("service", Set.of("guard", "handshake", "io", "metrics", "rpc", GEN, "sessions")),
            Map.entry("frontend", Set.of("certs", "guard", "handshake", "io", "metrics", "proxy", "rpc", GEN, "sessions")),
            Map.entry("cli", Set.of("certs", "frontend", "guard", "proxy")),
            Map.entry("daemon", Set.of("certs", "cli", "frontend", "guard", "handshake", "io", "metrics", "proxy", "records", "rpc", GEN,
                    "rpcbind", "service", "sessions"))));

    /**
     * What of {@code handshake} the other packages may name: its top-level interfaces (Handshaker,
     * Steps, the typed doors to a session and to the engines, ServerTls and ClientTls), the values
     * they pass (HandshakeOutcome, TlsPolicy, rpc.tlsclntd's ClientPolicy), the worker pool the
     * daemon builds and the service submits to, and the typed session lookup. Never TlsEngine,
     * ClientEngine, TlsSession, RpcTlsServer, RpcTlsClient, RecordCrypto or TokenSigner.
     */
    static final Set<String> HANDSHAKE_DOORS = Set.of("HandshakeOutcome", "TlsPolicy", "ClientPolicy", "HandshakeWorkers",
            "EstablishedSessions");

    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages(ROOT);

    private static String pkg(String name) {
        return ROOT + "." + name;
    }

    @Test
    void eachPackageUsesOnlyWhatItsPackageInfoAllows() {
        LayeredArchitecture layers = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String p : MAY_USE.keySet()) {
            // rpc's own layer is the package itself; its generated subpackage is a layer of its own
            layers = layers.layer(p).definedBy(p.equals("rpc") ? pkg(p) : pkg(p) + "..");
        }
        for (Map.Entry<String, Set<String>> e : MAY_USE.entrySet()) {
            layers = e.getValue().isEmpty()
                    ? layers.whereLayer(e.getKey()).mayNotAccessAnyLayer()
                    : layers.whereLayer(e.getKey()).mayOnlyAccessLayers(e.getValue().toArray(String[]::new));
        }
        layers.whereLayer("daemon").mayNotBeAccessedByAnyLayer().check(MAIN);
    }

    @Test
    void frontEndDoesNotUseCli() {
        noClasses().that().resideInAPackage(pkg("frontend..")).should().dependOnClassesThat().resideInAPackage(pkg("cli.."))
                .because("the daemon maps options to the front end's own settings (Daemon.frontEndSettings)")
                .check(MAIN);
    }

    @Test
    void certsAndSessionsDoNotUseTheGeneratedRpcCode() {
        noClasses().that().resideInAnyPackage(pkg("certs.."), pkg("sessions.."))
                .should().dependOnClassesThat().resideInAPackage(pkg(GEN + ".."))
                .because("they know certificates and sessions, not the RPCTLSSD wire format")
                .check(MAIN);
    }

    @Test
    void noCyclesBetweenPackages() {
        slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(MAIN);
    }

    /**
     * Fails until H-stages' typed doors (issue 19, point 2) replace the casts to TlsSession and the
     * TlsEngine field in frontend and daemon.
     */
    @Test
    void handshakeKeepsTlsEngineAndTlsSessionToItself() {
        DescribedPredicate<JavaClass> inside = new DescribedPredicate<>("are handshake's own classes other than its doors") {
            @Override
            public boolean test(JavaClass c) {
                if (!c.getPackageName().equals(pkg("handshake"))) {
                    return false;
                }
                JavaClass top = c;
                while (top.getEnclosingClass().isPresent()) {
                    top = top.getEnclosingClass().get();
                }
                return !top.isInterface() && !HANDSHAKE_DOORS.contains(top.getSimpleName());
            }
        };
        noClasses().that().resideOutsideOfPackage(pkg("handshake..")).should().dependOnClassesThat(inside)
                .because("a session's TLS state reaches others through handshake's interfaces, never a cast")
                .check(MAIN);
    }

    private static final Pattern LITERAL_OR_COMMENT = Pattern.compile(
            "\"(?:\\\\.|[^\"\\\\])*\"|'(?:\\\\.|[^'\\\\])*'|/\\*.*?\\*/|//[^\n]*", Pattern.DOTALL);
    private static final Pattern NAMED_PACKAGE = Pattern.compile("\\borg\\.rpctlsservd\\.(rpc\\.gen|[a-z]+)\\.");

    /**
     * The same table against the sources' imports and qualified names: javac inlines constants, so
     * the class files do not show that a package used another's {@code static final int}.
     */
    @Test
    void sourcesNameOnlyWhatTheirPackageMayUse() throws IOException {
        Path base = Path.of("src/main/java", ROOT.replace('.', '/'));
        List<String> crossings = new ArrayList<>();
        try (Stream<Path> files = Files.walk(base)) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java")).sorted().collect(Collectors.toList())) {
                String p = base.relativize(f.getParent()).toString().replace('/', '.');
                Set<String> allowed = MAY_USE.getOrDefault(p, Set.of());
                String code = LITERAL_OR_COMMENT.matcher(Files.readString(f)).replaceAll(" ");
                Matcher m = NAMED_PACKAGE.matcher(code);
                Set<String> named = new TreeSet<>();
                while (m.find()) {
                    if (!m.group(1).equals(p) && !allowed.contains(m.group(1))) {
                        named.add(m.group(1));
                    }
                }
                named.forEach(n -> crossings.add(base.relativize(f) + " names " + n));
            }
        }
        assertEquals(List.of(), crossings, "names of packages that LayeringTest.MAY_USE does not allow");
    }

    /** The wire constants certs and sessions keep for themselves (to stay apart from the generated code) are rpctlssd.x's. */
    @Test
    void constantsKeptApartFromTheGeneratedCodeAgreeWithIt() {
        assertEquals(rpctlssd.RPCTLS_NGROUPS, NameService.NGROUPS);
        assertEquals(rpctlssd.RPCTLSERR_OK, SessionTable.RPCTLSERR_OK);
        assertEquals(rpctlssd.RPCTLSERR_NOCLOSE, SessionTable.RPCTLSERR_NOCLOSE);
        assertEquals(rpctlssd.RPCTLSERR_NOSSL, SessionTable.RPCTLSERR_NOSSL);
    }

    private static final Pattern MAY_USE_LINE = Pattern.compile("May use:(.*?)(?:<p>|\\*/)", Pattern.DOTALL);
    private static final Pattern CODE = Pattern.compile("\\{@code ([a-z.]+)}");

    @Test
    void packageInfosSayWhatTheTableSays() throws IOException {
        Path base = Path.of("src/main/java", ROOT.replace('.', '/'));
        Map<String, Set<String>> stated = new TreeMap<>();
        List<String> missing = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(base)) {
            for (Path d : dirs.filter(Files::isDirectory).sorted().collect(Collectors.toList())) {
                String p = d.getFileName().toString();
                Path info = d.resolve("package-info.java");
                if (!Files.exists(info)) {
                    missing.add(p);
                    continue;
                }
                Matcher m = MAY_USE_LINE.matcher(Files.readString(info));
                Set<String> uses = new TreeSet<>();
                if (m.find()) {
                    Matcher c = CODE.matcher(m.group(1));
                    while (c.find()) {
                        uses.add(c.group(1));
                    }
                } else {
                    uses.add("(no May use: line)");
                }
                stated.put(p, uses);
            }
        }
        assertEquals(List.of(), missing, "packages without a package-info");
        Map<String, Set<String>> table = new TreeMap<>();
        MAY_USE.forEach((p, uses) -> {
            if (!p.equals(GEN)) { // generated: rpc's package-info speaks for it
                table.put(p, new TreeSet<>(uses));
            }
        });
        assertEquals(table, stated, "LayeringTest.MAY_USE and the package-infos' \"May use:\" lines");
    }

    /** docs/architecture.md's package table says what {@link #MAY_USE} says, package by package. */
    @Test
    void architectureDocSaysWhatTheTableSays() throws IOException {
        Map<String, Set<String>> stated = new TreeMap<>();
        Pattern row = Pattern.compile("^\\| `([a-z]+)` \\|.*\\| ([^|]*) \\|$", Pattern.MULTILINE);
        String doc = Files.readString(Path.of("docs/architecture.md"));
        int from = doc.indexOf("## Packages");
        Matcher m = row.matcher(doc.substring(from, doc.indexOf("\n## ", from + 1)));
        while (m.find()) {
            Set<String> uses = new TreeSet<>();
            Matcher c = Pattern.compile("`([a-z.]+)`").matcher(m.group(2));
            while (c.find()) {
                uses.add(c.group(1));
            }
            stated.put(m.group(1), uses);
        }
        Map<String, Set<String>> table = new TreeMap<>();
        MAY_USE.forEach((p, uses) -> {
            if (!p.equals(GEN)) {
                table.put(p, new TreeSet<>(uses));
            }
        });
        assertEquals(table, stated, "LayeringTest.MAY_USE and docs/architecture.md's package table");
    }
}
