package org.rpctlsservd.support;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;

/** A process's text output (or any stream's), collected as it comes, for waiting on a line and for failure messages. */
public final class ProcessText {
    private final StringBuffer text = new StringBuffer();

    /** Reads {@code in} to its end on one of {@code threads}. */
    public ProcessText(InputStream in, ExecutorService threads) {
        threads.submit(() -> {
            byte[] b = new byte[4096];
            int n;
            while ((n = in.read(b)) > 0) {
                text.append(new String(b, 0, n, StandardCharsets.UTF_8));
            }
            return null;
        });
    }

    /** Waits (as {@link Await#until} does) until {@code what} has come {@code times} times. */
    public void await(String what, int times) {
        Await.until(() -> occurrences(text.toString(), what) >= times, what + " x" + times + " in: " + text);
    }

    public String text() {
        return text.toString();
    }

    @Override
    public String toString() {
        return text.toString();
    }

    /** How often {@code what} stands in {@code s}, overlaps counted. */
    public static int occurrences(String s, String what) {
        int n = 0;
        for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + 1)) {
            n++;
        }
        return n;
    }
}
