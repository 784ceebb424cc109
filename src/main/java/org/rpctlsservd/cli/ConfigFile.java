package org.rpctlsservd.cli;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.rpctlsservd.certs.FileProblem;

/**
 * The {@code --config} file: one option per line, {@code name = value} or a bare {@code name} for
 * a flag, where {@code name} is a long option name; blank lines and lines starting with {@code #}
 * are ignored. It becomes command-line arguments, so its values meet exactly the checks and
 * messages of the command line. Hand-written: ten lines of syntax, and the errors must name the
 * file, the line and the name.
 */
final class ConfigFile {
    /** Larger than any sensible configuration; a bound on what is read. */
    private static final long MAX_BYTES = 1 << 20;

    private ConfigFile() {
    }

    /**
     * The file's options as arguments ({@code --name=value} or {@code --name}), but those the
     * command line also gives (by long name): the command line's replace them, a repeatable
     * {@code listen} included.
     */
    static List<String> read(Opt.Side program, String progname, Path file, Set<String> onCommandLine) throws UsageException {
        List<String> lines;
        if (Files.isDirectory(file)) {
            throw new UsageException(progname + ": " + file + " (--config): a directory, not a file");
        }
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new UsageException(progname + ": " + file + ": config file larger than " + MAX_BYTES + " bytes");
            }
            byte[] bytes = Files.readAllBytes(file);
            // Signs of a file caught while being written: refused, at a start as at a reload (and by --check).
            if (bytes.length == 0) {
                throw new UsageException(progname + ": " + file + ": config file is empty (caught while being written?);"
                        + " a file with no options holds at least a comment line");
            }
            if (bytes[bytes.length - 1] != '\n') {
                throw new UsageException(progname + ": " + file + ": config file does not end in a newline (caught while being written?);"
                        + " replace it by renaming a complete file");
            }
            lines = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString().lines().toList();
        } catch (CharacterCodingException e) {
            throw new UsageException(progname + ": " + file + ": config file is not UTF-8 text");
        } catch (IOException e) {
            throw new UsageException(progname + ": " + FileProblem.unreadable(file, "--config", e).getMessage());
        }
        List<String> args = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = progname + ": " + file + ":" + (i + 1) + ": ";
            int eq = line.indexOf('=');
            String name = (eq < 0 ? line : line.substring(0, eq)).strip();
            String value = eq < 0 ? null : line.substring(eq + 1).strip();
            if (name.isEmpty() || !name.chars().allMatch(c -> c == '-' || c == '_' || Character.isLetterOrDigit(c))) {
                throw new UsageException(where + "malformed line, expected \"name = value\" or \"name\": `" + line + "'");
            }
            Opt<?> o = Opt.byLongName(program, name);
            if (o == null || !o.inFile()) {
                throw new UsageException(where + "unknown option `" + name + "'");
            }
            if (o.takesArgument() && (value == null || value.isEmpty())) {
                throw new UsageException(where + "option `" + name + "' needs a value: " + name + " = " + o.argName());
            }
            if (!o.takesArgument() && value != null) {
                throw new UsageException(where + "option `" + name + "' takes no value; write the bare name to set it");
            }
            if (onCommandLine.contains(name)) {
                continue;
            }
            args.add(value == null ? "--" + name : "--" + name + "=" + value); // "=": a value may begin with '-'
        }
        return args;
    }
}
