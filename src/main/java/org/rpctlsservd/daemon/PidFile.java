package org.rpctlsservd.daemon;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The pidfile, held with an exclusive lock for the daemon's life (as pidfile_open(3) does), so a
 * second instance can tell that one runs and which.
 */
public final class PidFile implements Closeable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    /** Another instance holds the pidfile. */
    public static final class AlreadyRunningException extends Exception {
        private static final long serialVersionUID = 1L;
        private final long pid;

        AlreadyRunningException(long pid) {
            super(saying("rpctlssd", pid));
            this.pid = pid;
        }

        /** The C daemons' words, {@code daemon} being rpctlssd or rpctlscd. */
        public String saying(String daemon) {
            return saying(daemon, pid);
        }

        private static String saying(String daemon, long pid) {
            return daemon + " already running, pid: " + pid + ".";
        }

        public long pid() {
            return pid;
        }
    }

    private PidFile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /** The line that says why the pidfile cannot be had, and the two ways out. */
    public static String cannotCreate(Path path, IOException e) {
        String why = e instanceof java.nio.file.NoSuchFileException ? "no such directory"
                : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                : e instanceof java.nio.file.FileSystemException && ((java.nio.file.FileSystemException) e).getReason() != null
                        ? ((java.nio.file.FileSystemException) e).getReason()
                        : String.valueOf(e.getMessage());
        return "cannot create the pidfile " + path + " (--pidfile): " + why
                + "; name a writable place with --pidfile, or run without one with --no-pidfile";
    }

    /** Fails as {@link #acquire} would when {@code path} is missing and cannot be made (its directory missing or not writable). */
    public static void checkCreatable(Path path) throws IOException {
        if (Files.exists(path)) {
            return;
        }
        Path dir = path.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new java.nio.file.NoSuchFileException(String.valueOf(dir));
        }
        if (!Files.isWritable(dir)) {
            throw new java.nio.file.AccessDeniedException(dir.toString());
        }
    }

    /** Locks {@code path} (mode 0644: monitors read the pid; only the owner writes) and writes this process's pid into it. */
    public static PidFile acquire(Path path) throws IOException, AlreadyRunningException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            try {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException | IOException e) {
                // a filesystem without POSIX modes: the lock still works
            }
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            long pid = readPid(ch);
            ch.close();
            throw new AlreadyRunningException(pid);
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        ch.force(true);
        return new PidFile(path, ch, lock);
    }

    /** Fails with AlreadyRunningException when another instance holds {@code path}; holds nothing. */
    public static void checkFree(Path path) throws AlreadyRunningException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new AlreadyRunningException(readPid(ch));
            }
            lock.release();
        } catch (IOException e) {
            // missing or unreadable: the real acquire will say so
        }
    }

    private static long readPid(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            ch.read(b, 0);
            return Long.parseLong(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    public Path path() {
        return path;
    }

    /** Removes the pidfile and releases the lock. */
    @Override
    public void close() throws IOException {
        try {
            Files.deleteIfExists(path);
        } finally {
            lock.release();
            channel.close();
        }
    }
}
