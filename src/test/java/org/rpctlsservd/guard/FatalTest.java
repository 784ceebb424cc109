package org.rpctlsservd.guard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.support.Commands;

/** Fail fast: an Error in a vital thread ends the process with status 70 and one line; a bug in one task does not. */
class FatalTest {
    private static Commands.Result probe(String mode) throws Exception {
        return Commands.run(60, ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
                FatalProbe.class.getName(), mode);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "ioloop-error, fatal: thread probe-io failed with java.lang.OutOfMemoryError: forced",
        "timer-periodic, fatal: thread probe-timer failed with java.lang.IllegalStateException: a sweep that failed",
        "worker-error, fatal: thread handshake-1 failed with java.lang.StackOverflowError: forced",
    })
    void anErrorInAVitalThreadStopsTheProcess(String mode, String line) throws Exception {
        Commands.Result r = probe(mode);
        assertEquals(Fatal.STATUS, r.status(), r.output());
        assertTrue(r.output().contains(line), r.output());
        assertEquals(1, r.output().lines().filter(l -> l.contains("fatal:")).count(), r.output());
    }

    @org.junit.jupiter.api.Test
    void aRuntimeExceptionInOneCallbackIsLoggedAndTheLoopGoesOn() throws Exception {
        Commands.Result r = probe("ioloop-bug");
        assertEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("loop still running"), r.output());
        assertTrue(r.output().contains("a bug in one callback"), r.output());
    }
}
