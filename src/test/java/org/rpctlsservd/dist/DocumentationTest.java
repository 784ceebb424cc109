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
 * ({@link Opt#all()}): --help, the man pages, the example configuration file and docs/operations.md's
 * option tables (names, short names, arguments, plain defaults, what SIGHUP applies); and the man
 * pages pass mandoc's lint and format without a groff warning.
 */
class DocumentationTest {
    static final Path MAN = Path.of("src/main/dist/rpc.tlsservd.8");
    static final Path MAN5 = Path.of("src/main/dist/rpc.tlsservd.conf.5");
    static final Path CONF = Path.of("src/main/dist/rpc-tlsservd.conf");
    /** Where the option tables are (its "## Options" section); they moved there from README.md. */
    static final Path OPTION_TABLE = Path.of("docs/operations.md");

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
        Map<String, String> entries = entries(MAN, ".It Fl ", Pattern.compile("Fl -([a-z0-9_-]+)"));
        assertEquals(new TreeSet<>(declared().keySet()), new TreeSet<>(entries.keySet()));
        assertEquals(Cli.longNames(), new TreeSet<>(entries.keySet()), "and --help");
        for (Opt<?> o : Opt.all()) {
            String entry = entries.get(o.longName());
            String it = entry.lines().findFirst().orElseThrow();
            String expected = o.shortName() == null ? ".It Fl -" + o.longName() + arg(o)
                    : ".It Fl " + o.shortName() + arg(o) + " , Fl -" + o.longName() + arg(o);
            assertEquals(plain(expected), plain(it), "the entry of " + o + " names it, its short name and its argument as declared: " + it);
            if (plainDefault(o) != null) {
                assertTrue(entry.replace("\n", " ").contains("default is " + plainDefault(o)), o + ": " + entry);
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
        for (Path page : new Path[] {MAN, MAN5}) {
            Commands.Result r = Commands.run(60, "mandoc", "-Tlint", "-W", "warning", page.toString());
            assertEquals(0, r.status(), r.output());
            assertEquals("", r.output());
        }
    }

    /** What lintian's groff-message check runs (at 80 columns, where groff once could not break two lines). */
    @Test
    void groffFindsNoWarning() throws Exception {
        for (Path page : new Path[] {MAN, MAN5}) {
            Commands.Result r = Commands.run(60, "env", "LC_ALL=C.UTF-8", "MANROFFSEQ=", "MANWIDTH=80",
                    "sh", "-c", "man --warnings -E UTF-8 -l -Tutf8 -Z \"$1\" 2>&1 >/dev/null", "sh", page.toString());
            assertEquals(0, r.status(), r.output());
            assertEquals("", r.output(), "groff on " + page);
        }
    }
}
