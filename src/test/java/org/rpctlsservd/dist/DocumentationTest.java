package org.rpctlsservd.dist;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Opt;
import org.rpctlsservd.support.Commands;

/**
 * The options agree wherever an administrator reads them with their one declaration
 * ({@link Opt#all()} for rpc.tlsservd, {@link Opt#client()} for rpc.tlsclntd): --help, the man pages,
 * the example configuration files and docs/operations.md's option tables (names, short names,
 * arguments, plain defaults, what SIGHUP applies); and the man pages pass mandoc's lint and format
 * without a groff warning.
 */
class DocumentationTest {
    static final Path MAN = Path.of("src/main/dist/rpc.tlsservd.8");
    static final Path MAN5 = Path.of("src/main/dist/rpc.tlsservd.conf.5");
    static final Path CONF = Path.of("src/main/dist/rpc-tlsservd.conf");
    /** Where the option tables are (its "## Options" section); they moved there from README.md. */
    static final Path OPTION_TABLE = Path.of("docs/operations.md");
    static final Path CLIENT_MAN = Path.of("src/main/dist/rpc.tlsclntd.8");
    static final Path CLIENT_CONF = Path.of("src/main/dist/rpc-tlsclntd.conf");
    /** docs/operations.md's section on rpc.tlsclntd, with its option table. */
    static final String CLIENT_SECTION = "\n## rpc.tlsclntd and the connector\n";
    /**
     * The files a client's SIGHUP reads again, by option: -r's CRL, for new handshakes (Daemon's
     * reloadClientCrl); no other option of rpc.tlsclntd is reloaded but those declared so.
     */
    static final Set<String> CLIENT_RELOADED_FILES = Set.of("crl");

    static Set<String> matches(String text, Pattern p) {
        Set<String> out = new TreeSet<>();
        Matcher m = p.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** Every declared option by long name, in declaration order. */
    static Map<String, Opt<?>> declared() {
        Map<String, Opt<?>> out = new LinkedHashMap<>();
        for (Opt<?> o : Opt.all()) {
            out.put(o.longName(), o);
        }
        return out;
    }

    /** Each option list entry of a page ({@code .It} lines starting with {@code start}) with the text up to the next entry. */
    static Map<String, String> entries(Path page, String start, Pattern name) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        String current = null;
        for (String line : Files.readAllLines(page, StandardCharsets.UTF_8)) {
            if (line.startsWith(".It ") || line.startsWith(".El") || line.startsWith(".Sh ") || line.startsWith(".Ss ")) {
                current = null;
            }
            if (line.startsWith(start)) {
                for (String n : matches(line, name)) {
                    out.put(n, "");
                    current = n;
                }
            }
            if (current != null) {
                for (String n : out.keySet()) {
                    if (line.startsWith(start) ? line.contains(n) : n.equals(current)) {
                        out.put(n, out.get(n) + line + "\n");
                    }
                }
            }
        }
        return out;
    }

    /** A default the documentation states as a plain number ("10", "1024"), or null. */
    static String plainDefault(Opt<?> o) {
        return o.defaultText() != null && o.defaultText().matches("[0-9.]+") ? o.defaultText() : null;
    }

    /** The long names the man page describes: each {@code .It} entry's {@code Fl -name}. */
    static Set<String> manPageNames() throws Exception {
        return entries(MAN, ".It Fl ", Pattern.compile("Fl -([a-z0-9_-]+)")).keySet();
    }

    @Test
    void theManPageDescribesEveryOptionAsDeclared() throws Exception {
        describesEveryOption(MAN, Opt.Side.SERVER);
    }

    @Test
    void theClientManPageDescribesEveryClientOptionAsDeclared() throws Exception {
        describesEveryOption(CLIENT_MAN, Opt.Side.CLIENT);
    }

    /** {@code page} has one entry per option of {@code program}: its names and argument as declared, its plain or path default. */
    static void describesEveryOption(Path page, Opt.Side program) throws Exception {
        Map<String, String> entries = entries(page, ".It Fl ", Pattern.compile("Fl -([a-z0-9_-]+)"));
        assertEquals(Cli.longNames(program), new TreeSet<>(entries.keySet()), page + " and --help");
        for (Opt<?> o : Opt.of(program)) {
            String entry = entries.get(o.longName());
            String it = entry.lines().findFirst().orElseThrow();
            String expected = o.shortName() == null ? ".It Fl -" + o.longName() + arg(o)
                    : ".It Fl " + o.shortName() + arg(o) + " , Fl -" + o.longName() + arg(o);
            assertEquals(plain(expected), plain(it), "the entry of " + o + " names it, its short name and its argument as declared: " + it);
            if (plainDefault(o) != null) {
                assertTrue(entry.replace("\n", " ").contains("default is " + plainDefault(o)), o + ": " + entry);
            }
            if (o.defaultText() != null && o.defaultText().startsWith("/")) {
                assertTrue(entry.contains("\n.Pa " + o.defaultText() + " ."), o + "'s default path: " + entry);
            }
        }
    }

    private static String arg(Opt<?> o) {
        return o.takesArgument() ? " Ar " + o.argName() : "";
    }

    /** An entry's names and argument as the reader sees them: without mdoc's macros, blanks and brackets. */
    private static String plain(String it) {
        return it.replaceAll("\\b(It|Fl|Ar|Cm|Ns|Op)\\b", "").replaceAll("[\\s\\[\\]]", "");
    }

    /** The names the section 5 page lists: each {@code .It Cm name} entry (two on one line: {@code .It Cm a , Cm b}). */
    @Test
    void theConfigurationFilePageListsEveryOptionAFileCanSet() throws Exception {
        Map<String, String> entries = entries(MAN5, ".It Cm ", Pattern.compile("Cm ([a-z0-9_-]+)"));
        assertEquals(Cli.configNames(), new TreeSet<>(entries.keySet()));
        for (String name : entries.keySet()) {
            String it = entries.get(name).lines().findFirst().orElseThrow();
            assertEquals(declared().get(name).takesArgument(), it.contains("Cm " + name + " No = Ar "), it);
        }
    }

    @Test
    void theExampleConfigurationShowsEveryOptionAFileCanSetWithAValueItTakes() throws Exception {
        String conf = Files.readString(CONF, StandardCharsets.UTF_8);
        Set<String> names = matches(conf, Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = .*)?$"));
        assertEquals(Cli.configNames(), names);
        Set<String> actions = new TreeSet<>(Cli.longNames());
        actions.removeAll(names);
        assertEquals(Set.of("check", "config", "help", "version"), actions, "only the actions are left out");
        // Each line as it would be uncommented, among options that meet the rules between options.
        String[] context = {"-m", "-l", "/ca.pem", "-h", "--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2"};
        Matcher m = Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = (.*))?$").matcher(conf);
        while (m.find()) {
            Opt<?> o = declared().get(m.group(1));
            assertEquals(o.takesArgument(), m.group(2) != null, m.group());
            List<String> args = new ArrayList<>(List.of(context));
            args.add(m.group(2) == null ? "--" + o.longName() : "--" + o.longName() + "=" + m.group(2));
            assertDoesNotThrow(() -> new Cli("rpc.tlsservd", 2, "h.example.org", h -> null).parse(args.toArray(new String[0])),
                    m.group());
        }
    }

    @Test
    void theClientExampleConfigurationShowsEveryOptionAFileCanSetWithAValueItTakes() throws Exception {
        String conf = Files.readString(CLIENT_CONF, StandardCharsets.UTF_8);
        Set<String> names = matches(conf, Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = .*)?$"));
        assertEquals(Cli.configNames(Opt.Side.CLIENT), names);
        Set<String> actions = new TreeSet<>(Cli.longNames(Opt.Side.CLIENT));
        actions.removeAll(names);
        assertEquals(Set.of("check", "config", "help", "version"), actions, "only the actions are left out");
        // Each line as it would be uncommented, among options that meet the rules between options
        // (a CA for crl, a connector for the connector's options).
        String[] context = {"-l", "/ca.pem", "--connect", "127.0.0.1:1,server.example.org:2049"};
        Matcher m = Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = (.*))?$").matcher(conf);
        int lines = 0;
        while (m.find()) {
            Opt<?> o = Opt.byLongName(Opt.Side.CLIENT, m.group(1));
            assertEquals(o.takesArgument(), m.group(2) != null, m.group());
            List<String> args = new ArrayList<>(List.of(context));
            args.add(m.group(2) == null ? "--" + o.longName() : "--" + o.longName() + "=" + m.group(2));
            assertDoesNotThrow(() -> new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org", h -> null)
                    .parse(args.toArray(new String[0])), m.group());
            lines++;
        }
        assertTrue(lines >= names.size(), "every line was checked");
    }

    /** The NFS steps' lines together, as an administrator uncommenting them gets them, make one valid configuration. */
    @Test
    void theClientExampleNfsStepsTogetherAreValid() throws Exception {
        String conf = Files.readString(CLIENT_CONF, StandardCharsets.UTF_8);
        String steps = conf.substring(conf.indexOf("\n## A connector to an NFS server"), conf.indexOf("\n## TLS"));
        List<String> args = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = (.*))?$").matcher(steps);
        while (m.find()) {
            args.add(m.group(2) == null ? "--" + m.group(1) : "--" + m.group(1) + "=" + m.group(2));
        }
        assertEquals(List.of("--verifylocs=/etc/rpc.tlsclntd/ca.pem", "--connect=127.0.0.1:2049,nfs.example.org:2049",
                "--connect=127.0.0.1:20048,nfs.example.org:20048"), args, "the steps' lines");
        var config = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "h.example.org", h -> null).parse(args.toArray(new String[0]));
        assertEquals(2, config.connects().size());
    }

    @Test
    void theReadmeOptionTablesListEveryOptionAsDeclared() throws Exception {
        String readme = Files.readString(OPTION_TABLE, StandardCharsets.UTF_8);
        String options = readme.substring(readme.indexOf("\n## Options\n"), readme.indexOf("\n## ", readme.indexOf("\n## Options\n") + 5));
        Matcher m = Pattern.compile("(?m)^\\| (?:`-([^`]+)`, )?`--([a-z0-9_-]+)` \\|([^|]*)\\|(.*)$").matcher(options);
        Set<String> rows = new TreeSet<>();
        while (m.find()) {
            Opt<?> o = declared().get(m.group(2));
            assertTrue(o != null, "no such option: " + m.group());
            rows.add(o.longName());
            assertEquals(o.shortName(), m.group(1), m.group());
            assertEquals(o.takesArgument(), !m.group(3).isBlank(), "the argument column: " + m.group());
            if (plainDefault(o) != null) {
                assertTrue(m.group(4).contains("default " + plainDefault(o)), m.group());
            }
        }
        assertEquals(Cli.longNames(), rows);
    }

    @Test
    void theOperationsClientSectionListsEveryClientOptionAsDeclared() throws Exception {
        String doc = Files.readString(OPTION_TABLE, StandardCharsets.UTF_8);
        int at = doc.indexOf(CLIENT_SECTION);
        assertTrue(at >= 0, "docs/operations.md has the section" + CLIENT_SECTION);
        int end = doc.indexOf("\n## ", at + 5);
        String section = doc.substring(at, end < 0 ? doc.length() : end);
        Matcher m = Pattern.compile("(?m)^\\| (?:`-([^`]+)`, )?`--([a-z0-9_-]+)` \\|([^|]*)\\|(.*)$").matcher(section);
        Set<String> rows = new TreeSet<>();
        while (m.find()) {
            Opt<?> o = Opt.byLongName(Opt.Side.CLIENT, m.group(2));
            assertTrue(o != null, "no such option of rpc.tlsclntd: " + m.group());
            assertTrue(rows.add(o.longName()), "listed twice: " + m.group());
            assertEquals(o.shortName(), m.group(1), m.group());
            assertEquals(o.takesArgument(), !m.group(3).isBlank(), "the argument column: " + m.group());
            if (plainDefault(o) != null) {
                assertTrue(m.group(4).contains("default " + plainDefault(o)), m.group());
            }
            if (o.defaultText() != null && o.defaultText().startsWith("/")) {
                assertTrue(m.group(4).contains("default `" + o.defaultText() + "`"), m.group());
            }
        }
        assertEquals(Cli.longNames(Opt.Side.CLIENT), rows);
    }

    /** The client's page says what its SIGHUP applies: the CRL file, and the client options declared as reloaded (the log level). */
    @Test
    void theClientManPageSaysWhatAReloadApplies() throws Exception {
        Set<String> reloaded = new TreeSet<>(CLIENT_RELOADED_FILES);
        for (Opt<?> o : Opt.client()) {
            if (o.reloads()) {
                reloaded.add(o.longName());
            }
        }
        List<String> lines = Files.readAllLines(CLIENT_MAN, StandardCharsets.UTF_8);
        List<Set<String>> lists = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i - 1).equals("SIGHUP applies only") && lines.get(i).startsWith(".Pq Cm ")) {
                lists.add(new TreeSet<>(List.of(lines.get(i).substring(".Pq Cm ".length()).split(" , "))));
            }
        }
        assertEquals(List.of(reloaded), lists, "one list of what a reload applies, in the SIGNALS section");
        String signals = String.join("\n", lines.subList(lines.indexOf(".Sh SIGNALS"), lines.indexOf(".Sh EXIT STATUS")));
        assertTrue(signals.contains("SIGHUP applies only"), signals);
    }

    /** Both man pages say which options SIGHUP applies: the declared ones. */
    @Test
    void theManPagesSayWhatAReloadApplies() throws Exception {
        Set<String> reloaded = new TreeSet<>();
        for (Opt<?> o : Opt.all()) {
            if (o.reloads()) {
                reloaded.add(o.longName());
            }
        }
        for (Path page : new Path[] {MAN, MAN5}) {
            List<String> lines = Files.readAllLines(page, StandardCharsets.UTF_8);
            int at = -1;
            for (int i = 1; i < lines.size(); i++) {
                if (lines.get(i - 1).contains("the allow-lists") && lines.get(i).startsWith(".Pq Cm ")) {
                    at = i;
                }
            }
            assertTrue(at > 0, page + ": no list of what a reload applies");
            assertEquals(reloaded, new TreeSet<>(List.of(lines.get(at).substring(".Pq Cm ".length()).split(" , "))), page.toString());
        }
    }

    @Test
    void mandocFindsNoErrorOrWarning() throws Exception {
        for (Path page : new Path[] {MAN, MAN5, CLIENT_MAN}) {
            Commands.Result r = Commands.run(60, "mandoc", "-Tlint", "-W", "warning", page.toString());
            assertEquals(0, r.status(), r.output());
            assertEquals("", r.output());
        }
    }

    /** What lintian's groff-message check runs (at 80 columns, where groff once could not break two lines). */
    @Test
    void groffFindsNoWarning() throws Exception {
        for (Path page : new Path[] {MAN, MAN5, CLIENT_MAN}) {
            Commands.Result r = Commands.run(60, "env", "LC_ALL=C.UTF-8", "MANROFFSEQ=", "MANWIDTH=80",
                    "sh", "-c", "man --warnings -E UTF-8 -l -Tutf8 -Z \"$1\" 2>&1 >/dev/null", "sh", page.toString());
            assertEquals(0, r.status(), r.output());
            assertEquals("", r.output(), "groff on " + page);
        }
    }
}
