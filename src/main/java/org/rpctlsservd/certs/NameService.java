package org.rpctlsservd.certs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.rpctlsservd.guard.RateLimitedLog;
import java.util.regex.Pattern;

/**
 * The {@code -u} mapping's second half: a user's uid and groups from the system's name service,
 * as {@code getent passwd} and {@code id -G} see them (so users in LDAP or SSSD map too; Java has
 * no getpwnam, hence the two commands). Primary gid first; more than 1024 groups means no mapping.
 * Answers, found or not, are cached briefly. Blocking: never call it on a handshake worker.
 */
public final class NameService {
    private static final RateLimitedLog WARNINGS = new RateLimitedLog(Logger.getLogger("rpctlssd"));
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** RPCTLS_NGROUPS of rpctlssd.x, kept here so that certs needs no RPC code (LayeringTest checks they agree). */
    public static final int NGROUPS = 1024;
    /** Portable user names (and the common '@'-free extensions); anything else is never looked up. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._][A-Za-z0-9._-]{0,255}\\$?");

    public record User(String name, int uid, int[] gids) {
    }

    private final long ttlNanos;
    private final Map<String, Entry> cache = new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
            return size() > 1024;
        }
    };

    private record Entry(Optional<User> user, long at) {
    }

    /** Where the answers come from: the system's name service, or a test's. */
    public interface Directory {
        /** The {@code getent passwd} line(s) for {@code name}, or null when there is no such user. */
        String passwd(String name) throws IOException, InterruptedException;

        /** The {@code id -G} output for {@code name} (gids separated by blanks), or null. */
        String groups(String name) throws IOException, InterruptedException;
    }

    /** The system's name service, through {@code getent passwd} and {@code id -G}. */
    public static final Directory SYSTEM = new Directory() {
        @Override
        public String passwd(String name) throws IOException, InterruptedException {
            return run("getent", "passwd", name);
        }

        @Override
        public String groups(String name) throws IOException, InterruptedException {
            return run("id", "-G", name);
        }
    };

    private final Directory directory;

    public NameService(long ttlMillis) {
        this(ttlMillis, SYSTEM);
    }

    public NameService(long ttlMillis, Directory directory) {
        this.ttlNanos = TimeUnit.MILLISECONDS.toNanos(ttlMillis);
        this.directory = directory;
    }

    public Optional<User> lookup(String name) {
        if (!NAME.matcher(name).matches()) {
            return Optional.empty();
        }
        long now = System.nanoTime();
        synchronized (cache) {
            Entry e = cache.get(name);
            if (e != null && now - e.at < ttlNanos) {
                return e.user;
            }
        }
        Optional<User> u = resolve(name);
        synchronized (cache) {
            cache.put(name, new Entry(u, now));
        }
        return u;
    }

    private Optional<User> resolve(String name) {
        try {
            String passwd = directory.passwd(name);
            if (passwd == null) {
                return Optional.empty();
            }
            String[] f = passwd.split("\n")[0].split(":");
            if (f.length < 4 || !f[0].equals(name)) {
                return Optional.empty();
            }
            int uid = (int) Long.parseLong(f[2]);
            int gid = (int) Long.parseLong(f[3]);
            String groups = directory.groups(name);
            List<Integer> gids = new ArrayList<>();
            gids.add(gid);
            if (groups != null) {
                for (String g : groups.trim().split("\\s+")) {
                    if (!g.isEmpty()) {
                        int v = (int) Long.parseLong(g);
                        if (!gids.contains(v)) {
                            gids.add(v);
                        }
                    }
                }
            }
            if (gids.size() > NGROUPS) {
                LOG.info("user " + name + " is in " + gids.size() + " groups, more than " + NGROUPS + ": not mapped");
                return Optional.empty();
            }
            return Optional.of(new User(name, uid, gids.stream().mapToInt(Integer::intValue).toArray()));
        } catch (IOException | NumberFormatException e) {
            WARNINGS.warning("lookup-failed", () -> "looking up user " + name + " failed: " + e.getMessage());
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** stdout of a command, or null when it fails; at most 5 s. */
    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().close();
        // The outputs (a passwd line, at most 1024 gids) fit in the pipe: wait first, then read.
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish in 5 s");
        }
        byte[] out = p.getInputStream().readNBytes(1 << 20);
        return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8) : null;
    }
}
