package org.rpctlsservd.certs;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A file an option names that cannot be used, said as an administrator can act on it:
 * {@code /etc/rpc.tlsservd/certkey.pem (--certdir): missing}: the file, the option that named it,
 * the reason in words.
 */
public final class FileProblem extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;
    private final String option;
    private final String reason;

    public FileProblem(Path file, String option, String reason) {
        super(file + " (" + option + "): " + reason);
        this.file = file;
        this.option = option;
        this.reason = reason;
    }

    public FileProblem(Path file, String option, String reason, Throwable cause) {
        this(file, option, reason);
        initCause(cause);
    }

    public Path file() {
        return file;
    }

    public String reason() {
        return reason;
    }

    /** The same problem with {@code more} after the reason (what to do about it). */
    public FileProblem with(String more) {
        return new FileProblem(file, option, reason + "; " + more, getCause());
    }

    /** {@code file} exists, is no directory and can be opened for reading; nothing is read. */
    public static void openable(Path file, String option) throws FileProblem {
        if (Files.isDirectory(file)) {
            throw new FileProblem(file, option, "a directory, not a file");
        }
        try (var ch = Files.newByteChannel(file)) {
            // opened: readable
        } catch (IOException e) {
            throw unreadable(file, option, e);
        }
    }

    /** What could not open {@code file} ({@code option}'s), in words: missing, or unreadable and why. */
    public static FileProblem unreadable(Path file, String option, IOException e) {
        if (e instanceof NoSuchFileException) {
            return new FileProblem(file, option, "missing", e);
        }
        if (e instanceof AccessDeniedException) {
            return new FileProblem(file, option, "unreadable (permission denied to user " + System.getProperty("user.name") + ")", e);
        }
        return new FileProblem(file, option, "unreadable (" + e.getMessage() + ")", e);
    }

    /** The whole of {@code file}: a regular file that exists, can be read and is not empty. */
    public static byte[] read(Path file, String option) throws FileProblem {
        if (Files.isDirectory(file)) {
            throw new FileProblem(file, option, "a directory, not a file");
        }
        byte[] b;
        try {
            b = Files.readAllBytes(file);
        } catch (IOException e) {
            throw unreadable(file, option, e);
        }
        if (b.length == 0) {
            throw new FileProblem(file, option, "empty");
        }
        return b;
    }
}
