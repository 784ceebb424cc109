package org.rpctlsservd.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native provider's temporary library copies: what a load sweeps, and the stop's wait for a copy under way. */
class NativeCopiesTest {
    @TempDir
    Path tmp;

    private Path copy(String name, Instant changed, String... files) throws Exception {
        Path d = Files.createDirectory(tmp.resolve(name));
        for (String f : files) {
            Files.write(d.resolve(f), new byte[100]);
        }
        Files.setLastModifiedTime(d, FileTime.from(changed));
        return d;
    }

    @Test
    void aLoadRemovesOnlyStaleCopiesOfTheLibraryAndLeavesEverythingElse() throws Exception {
        Instant old = Instant.now().minus(Duration.ofMinutes(10));
        Path stale = copy(NativeCopies.PREFIX + "0011223344556677", old, NativeCopies.LIBRARY);
        Path staleEmpty = copy(NativeCopies.PREFIX + "8899aabbccddeeff", old);
        Path fresh = copy(NativeCopies.PREFIX + "0123456789abcdef", Instant.now(), NativeCopies.LIBRARY);
        Path withMore = copy(NativeCopies.PREFIX + "fedcba9876543210", old, NativeCopies.LIBRARY, "notes.txt");
        Path otherName = copy("someoneElse.0011223344556677", old, NativeCopies.LIBRARY);
        Path plainFile = Files.write(tmp.resolve(NativeCopies.PREFIX + "file"), new byte[1]);
        Files.setLastModifiedTime(plainFile, FileTime.from(old));
        Path target = copy("target", old, NativeCopies.LIBRARY);
        Path link = Files.createSymbolicLink(tmp.resolve(NativeCopies.PREFIX + "link"), target);

        assertEquals(2, NativeCopies.sweep(tmp, NativeCopies.staleBefore()));

        assertFalse(Files.exists(stale), "a stale copy is removed");
        assertFalse(Files.exists(staleEmpty), "a stale directory the loader had not written yet is removed");
        assertTrue(Files.exists(fresh.resolve(NativeCopies.LIBRARY)), "a copy a loader may be loading now is kept");
        assertTrue(Files.exists(withMore.resolve("notes.txt")), "a directory holding anything else is kept");
        assertTrue(Files.exists(otherName.resolve(NativeCopies.LIBRARY)));
        assertTrue(Files.exists(plainFile));
        assertTrue(Files.isSymbolicLink(link) && Files.exists(target.resolve(NativeCopies.LIBRARY)), "a link is not followed");
    }

    /** However old the sweep takes everything to be, a link named like a copy is neither removed nor followed, of either kind. */
    @Test
    void linksAreNeverRemovedNorFollowed(@TempDir Path elsewhere) throws Exception {
        Path library = Files.createDirectory(elsewhere.resolve("library"));
        Files.write(library.resolve(NativeCopies.LIBRARY), new byte[100]);
        Path file = Files.write(elsewhere.resolve("file.so"), new byte[100]);
        Path toDirectory = Files.createSymbolicLink(tmp.resolve(NativeCopies.PREFIX + "link"), library);
        Path toFile = Files.createSymbolicLink(tmp.resolve(NativeGcm.PREFIX + "link.so"), file);
        Instant everything = Instant.now().plus(Duration.ofHours(1));
        assertEquals(0, NativeCopies.sweep(tmp, everything));
        assertEquals(0, NativeGcm.sweep(tmp, everything));
        assertTrue(Files.isSymbolicLink(toDirectory) && Files.exists(library.resolve(NativeCopies.LIBRARY)));
        assertTrue(Files.isSymbolicLink(toFile) && Files.exists(file));
    }

    @Test
    void aMissingDirectoryIsNothingToSweep() {
        assertEquals(0, NativeCopies.sweep(tmp.resolve("absent"), NativeCopies.staleBefore()));
    }

    @Test
    void theStopWaitsForACopyUnderWayAndNoneBeginsWhenItIsNotWanted() throws Exception {
        CountDownLatch copying = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        CompletableFuture<Boolean> load = CompletableFuture.supplyAsync(() -> NativeCopies.whileCopying(() -> true, () -> {
            copying.countDown();
            try {
                finish.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        assertTrue(copying.await(30, TimeUnit.SECONDS));
        assertEquals(NativeCopies.Wait.TIMED_OUT, NativeCopies.awaitCopy(Duration.ofMillis(50)), "a copy is under way");
        CompletableFuture<NativeCopies.Wait> stop = CompletableFuture.supplyAsync(() -> {
            try {
                return NativeCopies.awaitCopy(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        org.rpctlsservd.support.Await.until(() -> NativeCopies.waiting() == 1, "the stop waiting", 30);
        finish.countDown();
        assertEquals(NativeCopies.Wait.WAITED, stop.get(30, TimeUnit.SECONDS), "the stop waited for it");
        assertTrue(load.get(30, TimeUnit.SECONDS));
        assertEquals(NativeCopies.Wait.NONE, NativeCopies.awaitCopy(Duration.ofSeconds(30)), "none under way now");

        AtomicBoolean ran = new AtomicBoolean();
        assertFalse(NativeCopies.whileCopying(() -> false, () -> ran.set(true)));
        assertFalse(ran.get(), "a load no longer wanted does not begin");
    }
}
