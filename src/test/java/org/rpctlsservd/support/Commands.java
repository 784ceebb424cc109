package org.rpctlsservd.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command with a timeout and returns its exit status and output (stderr folded in). */
public final class Commands {
    private Commands() {
    }

    public record Result(int status, String output) {
    }

    public static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
        return runIn(null, timeoutSeconds, command);
    }

    /** Starts {@code command}: stdin from /dev/null, stdout and stderr into {@code log}, {@code env} added to its environment. */
    public static Process startLogged(List<String> command, java.nio.file.Path log, java.util.Map<String, String> env)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().putAll(env);
        return pb.start();
    }

    /** SIGTERM, up to 20 s to end, then SIGKILL: for a test's finally. */
    public static void stop(Process p) throws InterruptedException {
        p.destroy();
        p.waitFor(20, TimeUnit.SECONDS);
        p.destroyForcibly();
    }

    /** As {@link #run}, in the working directory {@code dir}. */
    public static Result runIn(java.io.File dir, int timeoutSeconds, String... command) throws IOException, InterruptedException {
        // The output goes to a file, not a pipe: a command that prints more than a pipe holds must not hang.
        java.nio.file.Path out = java.nio.file.Files.createTempFile("command", ".out");
        try {
            Process p = new ProcessBuilder(List.of(command)).directory(dir).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
            }
            return new Result(p.exitValue(), new String(java.nio.file.Files.readAllBytes(out), StandardCharsets.UTF_8));
        } finally {
            java.nio.file.Files.deleteIfExists(out);
        }
    }
}
