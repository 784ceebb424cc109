package org.rpctlsservd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.support.Commands;

/**
 * The option names agree wherever an administrator reads them: --help, the man pages, the example
 * configuration file and the README's option tables; and the man pages pass mandoc's lint and
 * format without a groff warning.
 */
class DocumentationTest {
    static final Path MAN = Path.of("src/main/dist/rpc.tlsservd.8");
    static final Path MAN5 = Path.of("src/main/dist/rpc.tlsservd.conf.5");
    static final Path CONF = Path.of("src/main/dist/rpc-tlsservd.conf");
    static final Path README = Path.of("docs/operations.md"); // the option tables moved there from README.md

    static Set<String> matches(String text, Pattern p) {
        Set<String> out = new TreeSet<>();
        Matcher m = p.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** The long names the man page describes: each {@code .It} entry's {@code Fl -name}. */
    static Set<String> manPageNames() throws Exception {
        Set<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(MAN, StandardCharsets.UTF_8)) {
            if (line.startsWith(".It ")) {
                out.addAll(matches(line, Pattern.compile("Fl -([a-z0-9_-]+)")));
            }
        }
        return out;
    }

    @Test
    void theManPageDescribesEveryOptionOfHelp() throws Exception {
        assertEquals(Cli.longNames(), manPageNames());
    }

    /** The names the section 5 page lists: each {@code .It Cm name} entry (two on one line: {@code .It Cm a , Cm b}). */
    @Test
    void theConfigurationFilePageListsEveryOptionAFileCanSet() throws Exception {
        Set<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(MAN5, StandardCharsets.UTF_8)) {
            if (line.startsWith(".It Cm ")) {
                out.addAll(matches(line, Pattern.compile("Cm ([a-z0-9_-]+)")));
            }
        }
        assertEquals(Cli.configNames(), out);
    }

    @Test
    void theExampleConfigurationShowsEveryOptionAFileCanSet() throws Exception {
        String conf = Files.readString(CONF, StandardCharsets.UTF_8);
        Set<String> names = matches(conf, Pattern.compile("(?m)^#([a-z0-9_-]+)(?: = .*)?$"));
        assertEquals(Cli.configNames(), names);
        Set<String> actions = new TreeSet<>(Cli.longNames());
        actions.removeAll(names);
        assertEquals(Set.of("check", "config", "help", "version"), actions, "only the actions are left out");
    }

    @Test
    void theReadmeOptionTablesListEveryOption() throws Exception {
        String readme = Files.readString(README, StandardCharsets.UTF_8);
        String options = readme.substring(readme.indexOf("\n## Options\n"), readme.indexOf("\n## ", readme.indexOf("\n## Options\n") + 5));
        assertEquals(Cli.longNames(), matches(options, Pattern.compile("(?m)^\\| (?:`-[^`]+`, )?`--([a-z0-9_-]+)`")));
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
