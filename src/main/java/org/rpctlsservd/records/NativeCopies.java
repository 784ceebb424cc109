package org.rpctlsservd.records;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The temporary copies of the native provider's library. Its loader copies the library (10 MB) out
 * of the jar into a directory of its own under the temporary directory, loads it and deletes it,
 * all within a second; a JVM stopped inside that second leaves the copy behind for good. So the
 * daemon's stop waits for a copy under way ({@link #awaitCopy}), and each load first removes the
 * copies older than a minute that killed JVMs left ({@link #sweep}): nothing else keeps one that long.
 */
public final class NativeCopies {
    /** What a stop found: no copy under way, one it waited for, or one still under way when it gave up. */
    public enum Wait {
        NONE, WAITED, TIMED_OUT
    }

    /** The loader's own prefix for its directories (AmazonCorrettoCryptoProvider's Loader). */
    static final String PREFIX = "amazonCorrettoCryptoProviderNativeLibraries.";
    static final String LIBRARY = "libamazonCorrettoCryptoProvider.so";
    /** Older than this, a copy belongs to no loader still running. */
    static final Duration STALE = Duration.ofMinutes(1);

    /** Held while the library is copied, loaded and its copy deleted (the provider's class initialisation). */
    private static final ReentrantLock COPYING = new ReentrantLock();

    private NativeCopies() {
    }

    /** Where the loader puts its copies: its own property, else java.io.tmpdir. */
    public static Path directory() {
        return Path.of(System.getProperty("com.amazon.corretto.crypto.provider.tmpdir", System.getProperty("java.io.tmpdir")));
    }

    /**
     * Runs {@code load} (the provider's class initialisation) holding the copy lock, unless
     * {@code wanted} says no once the lock is held (a stop came first): then returns false.
     */
    static boolean whileCopying(java.util.function.BooleanSupplier wanted, Runnable load) {
        COPYING.lock();
        try {
            if (!wanted.getAsBoolean()) {
                return false;
            }
            load.run();
            return true;
        } finally {
            COPYING.unlock();
        }
    }

    /** Threads waiting for the copy under way (tests: a stop is waiting). */
    static int waiting() {
        return COPYING.getQueueLength();
    }

    /**
     * For the daemon's stop, at its end: waits up to {@code timeout} for a copy under way to be
     * loaded and deleted, so that it is not left in the temporary directory.
     */
    public static Wait awaitCopy(Duration timeout) throws InterruptedException {
        boolean underWay = COPYING.isLocked();
        if (!COPYING.tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return Wait.TIMED_OUT;
        }
        COPYING.unlock();
        return underWay ? Wait.WAITED : Wait.NONE;
    }

    /**
     * Removes from {@code dir} the loader's directories last changed before {@code before}, that this
     * user owns and that hold nothing but the library (a partial copy or a whole one): what killed
     * JVMs left. Anything else is left as it is. Returns how many were removed.
     */
    static int sweep(Path dir, Instant before) {
        return sweep(dir, PREFIX, before, d -> {
            if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) || !onlyTheLibrary(d)) {
                return false;
            }
            Files.deleteIfExists(d.resolve(LIBRARY));
            Files.delete(d);
            return true;
        });
    }

    /** Removes one stale copy of its kind, or says it is not one (false: left as it is). */
    interface Removal {
        boolean remove(Path p) throws IOException;
    }

    /**
     * Offers {@code remove} each entry of {@code dir} named {@code prefix}..., owned by this user and
     * last changed before {@code before} (links not followed); returns how many it removed. The sweep
     * of both native libraries' copies (the provider's directories, {@link NativeGcm}'s files).
     */
    static int sweep(Path dir, String prefix, Instant before, Removal remove) {
        int removed = 0;
        try (DirectoryStream<Path> found = Files.newDirectoryStream(dir, prefix + "*")) {
            Object me = Files.getAttribute(Path.of("/proc/self"), "unix:uid"); // by number: a uid without a passwd entry has no name
            for (Path p : found) {
                try {
                    if (me.equals(Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS))
                            && Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(before)
                            && remove.remove(p)) {
                        removed++;
                    }
                } catch (IOException | SecurityException e) {
                    // another process's, or gone meanwhile: not ours to insist on
                }
            }
        } catch (IOException | java.nio.file.DirectoryIteratorException | SecurityException | UnsupportedOperationException
                | IllegalArgumentException e) {
            return removed; // no such directory, not readable, or no unix attributes here: nothing to sweep
        }
        return removed;
    }

    private static boolean onlyTheLibrary(Path d) throws IOException {
        try (DirectoryStream<Path> in = Files.newDirectoryStream(d)) {
            for (Path f : in) {
                if (!f.getFileName().toString().equals(LIBRARY) || !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The last-changed time a copy must be older than to be swept now. */
    static Instant staleBefore() {
        return Instant.now().minus(STALE);
    }
}
