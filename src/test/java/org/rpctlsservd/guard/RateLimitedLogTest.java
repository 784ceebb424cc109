package org.rpctlsservd.guard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.Await;
import org.rpctlsservd.support.LogCapture;

/** Repeated warnings: one line per kind and interval, then the count of those held back. */
class RateLimitedLogTest {
    @Test
    void aFloodOfOneKindIsOneLine() {
        try (LogCapture log = new LogCapture("ratelimit-test-1")) {
            RateLimitedLog r = new RateLimitedLog(Logger.getLogger("ratelimit-test-1"), TimeUnit.HOURS.toNanos(1));
            for (int i = 0; i < 10_000; i++) {
                int n = i;
                r.warning("flood", () -> "event " + n);
                r.warning("other", () -> "other " + n);
            }
            assertEquals(List.of("event 0", "other 0"), log.lines());
        }
    }

    @Test
    void theNextLineCountsWhatWasSuppressed() {
        try (LogCapture log = new LogCapture("ratelimit-test-2")) {
            RateLimitedLog r = new RateLimitedLog(Logger.getLogger("ratelimit-test-2"), TimeUnit.MILLISECONDS.toNanos(50));
            r.warning("flood", () -> "first");
            for (int i = 0; i < 99; i++) {
                r.warning("flood", () -> "held back");
            }
            // after the interval the next event goes out with the count
            Await.until(() -> {
                r.warning("flood", () -> "later");
                return log.lines().size() == 2;
            }, "a second line after the interval");
            String second = log.lines().get(1);
            assertTrue(second.startsWith("later (and "), second);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("later \\(and (\\d+) more like this since the last such line\\)")
                    .matcher(second);
            assertTrue(m.matches(), second);
            assertTrue(Integer.parseInt(m.group(1)) >= 99, second);
        }
    }
}
