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
 * The option names agree wherever an administrator reads them: --help, the man page, the example
 * configuration file and the README's option tables; and the man page passes mandoc's lint.
 */
class DocumentationTest {
    static final Path MAN = Path.of("src/main/dist/rpc.tlsservd.8");
    static final Path CONF = Path.of("src/main/dist/rpc-tlsservd.conf");
    static final Path README = Path.of("README.md");

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
        Commands.Result r = Commands.run(60, "mandoc", "-Tlint", "-W", "warning", MAN.toString());
        assertEquals(0, r.status(), r.output());
        assertEquals("", r.output());
    }
}
