package org.rpctlsservd.support;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Debian's nfs-ganesha (FSAL_VFS) in the foreground, in a network namespace of its own, as the
 * real NFS server behind the front end. The daemon under test stays in the root namespace and
 * reaches it at {@link #address} (ports {@link #NFS_PORT} and {@link #MOUNT_PORT}) over a veth pair.
 *
 * <p>Why each part is there:
 * <ul>
 * <li>The namespace: ganesha registers NFS and MOUNT with rpcbind and exits ("Cannot register NFS V3
 * on TCP") when it cannot, so it gets a private rpcbind, which needs port 111 of its own; and the
 * system's rpcbind on 127.0.0.1:111 must not learn about it (tests leave the machine as they found it).
 * <li>The veth pair: with only loopback in a namespace ganesha refuses to start ("No IP address found
 * for 127.0.0.1": glibc answers its AI_ADDRCONFIG look-up with nothing while no non-loopback IPv4
 * address exists).
 * <li>A tmpfs on /run: libtirpc registers through rpcbind's Unix socket /run/rpcbind.sock, which a
 * network namespace does not separate; the system's would take the registrations. {@code ip netns
 * exec} already runs its command in a mount namespace of its own (it remounts /sys there, with "/"
 * made a slave), so a tmpfs mounted on /run inside it hides the system's socket from the private
 * rpcbind and ganesha, which one script starts in that one mount namespace, and never shows outside.
 * </ul>
 * Names (namespace {@code rtgXXXX}, veth {@code rtgXXXXh}/{@code rtgXXXXn}) and the /30 subnet (in
 * 198.18.0.0/15, RFC 2544's range for testing) come from the process id and a counter: parallel test
 * JVMs do not collide, and a namespace left by a killed run of the same name is removed first.
 */
public final class Ganesha implements AutoCloseable {
    public static final int NFS_PORT = 2049;
    public static final int MOUNT_PORT = 20048;
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final int START_SECONDS = 30;
    private static final int STOP_SECONDS = 10;

    /** One EXPORT block: {@code path} served as {@code pseudo} (NFSv4) and by its real path (NFSv3). */
    public record Export(int id, Path path, String pseudo, boolean privilegedPort) {
        /** The path an NFSv3 client mounts: the export's real path, symbolic links resolved. */
        public String realPath() {
            try {
                return path.toRealPath().toString();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    public final String name;
    /** Ganesha's address (the namespace's end of the veth pair). */
    public final String address;
    public final Path dir;
    public final List<Export> exports;
    private final String hostAddress;
    private Process process;
    private boolean netUp;

    private Ganesha(String name, String hostAddress, String address, Path dir, List<Export> exports) {
        this.name = name;
        this.hostAddress = hostAddress;
        this.address = address;
        this.dir = dir;
        this.exports = exports;
    }

    /** Starts ganesha with {@code exports} (their directories are made), its files under {@code dir}; fails with its log if it does not come up. */
    public static Ganesha start(Path dir, Export... exports) throws Exception {
        int id = (int) ((ProcessHandle.current().pid() * 64 + COUNTER.getAndIncrement()) & 0x7fff);
        int base = id * 4; // the /30 inside 198.18.0.0/15
        String net = "198." + (18 + (base >> 16)) + "." + ((base >> 8) & 0xff) + ".";
        Ganesha g = new Ganesha(String.format("rtg%04x", id), net + ((base & 0xff) + 1), net + ((base & 0xff) + 2), dir,
                List.of(exports));
        try {
            Files.createDirectories(dir.resolve("recovery"));
            for (Export e : exports) {
                Files.createDirectories(e.path());
            }
            Files.writeString(dir.resolve("ganesha.conf"), g.config());
            Files.writeString(dir.resolve("run.sh"), RUN);
            g.removeNetwork(); // a leftover of a killed run with the same name
            g.network();
            g.launch();
            return g;
        } catch (Throwable t) {
            g.close();
            throw t;
        }
    }

    /**
     * Run by {@code ip netns exec} (so in a mount namespace of its own): hides the system's /run,
     * starts a private rpcbind, waits (bounded) for its socket, then becomes ganesha.
     */
    private static final String RUN = String.join("\n",
            "set -e",
            "mount -t tmpfs rtg-run /run",
            "mkdir -p /run/rpcbind",
            "rpcbind -f -w &",
            "i=0",
            "until [ -S /run/rpcbind.sock ]; do",
            "  i=$((i + 1)); [ $i -le 200 ] || { echo 'the private rpcbind did not start within 10 s' >&2; exit 1; }",
            "  sleep 0.05",
            "done",
            "exec ganesha.nfsd -F -f \"$1/ganesha.conf\" -L \"$1/ganesha.log\" -p \"$1/ganesha.pid\" -N NIV_EVENT",
            "");

    private String config() {
        StringBuilder c = new StringBuilder();
        c.append("NFS_CORE_PARAM { Protocols = 3, 4; Bind_Addr = ").append(address).append("; NFS_Port = ").append(NFS_PORT)
                .append("; MNT_Port = ").append(MOUNT_PORT)
                .append("; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }\n");
        c.append("NFS_KRB5 { Active_krb5 = false; }\n"); // no "Cannot acquire credentials for principal nfs"
        c.append("NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = \"").append(dir.resolve("recovery"))
                .append("\"; Minor_Versions = 0, 1, 2; }\n");
        for (Export e : exports) {
            c.append("EXPORT { Export_Id = ").append(e.id()).append("; Path = \"").append(e.realPath()).append("\"; Pseudo = \"")
                    .append(e.pseudo()).append("\"; Protocols = 3, 4; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash;")
                    .append(" SecType = sys;").append(e.privilegedPort() ? " PrivilegedPort = true;" : "")
                    .append(" FSAL { Name = VFS; } }\n");
        }
        return c.toString();
    }

    private void network() throws Exception {
        netUp = true;
        ip("netns", "add", name);
        ip("link", "add", name + "h", "type", "veth", "peer", "name", name + "n");
        ip("link", "set", name + "n", "netns", name);
        ip("addr", "add", hostAddress + "/30", "dev", name + "h");
        ip("link", "set", name + "h", "up");
        ip("-n", name, "addr", "add", address + "/30", "dev", name + "n");
        ip("-n", name, "link", "set", name + "n", "up");
        ip("-n", name, "link", "set", "lo", "up");
    }

    private static void ip(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Commands.Result r = Commands.run(10, cmd.toArray(new String[0]));
        if (r.status() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + r.status() + "): " + r.output().strip());
        }
    }

    private void launch() throws Exception {
        Files.deleteIfExists(dir.resolve("ganesha.log")); // the log of this start only, for the message below
        process = Commands.startLogged(List.of("ip", "netns", "exec", name, "sh", dir.resolve("run.sh").toString(), dir.toString()),
                dir.resolve("ganesha.out"), Map.of());
        try {
            Await.until(() -> !process.isAlive() || (log().contains("NFS SERVER INITIALIZED") && listening(NFS_PORT)
                    && listening(MOUNT_PORT)), "ganesha to serve on " + address, START_SECONDS);
        } catch (AssertionError e) {
            throw new AssertionError("ganesha did not come up within " + START_SECONDS + " s: " + diagnostics());
        }
        if (!process.isAlive()) {
            throw new AssertionError("ganesha exited with status " + process.exitValue() + ": " + diagnostics());
        }
        // Ganesha serves on after errors in its configuration (an export it refused is simply absent)
        if (log().contains("config_errs_to_log")) {
            throw new AssertionError("ganesha refused part of its configuration " + dir.resolve("ganesha.conf") + ": " + diagnostics());
        }
    }

    private boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** What ganesha and its start script said, for failure messages. */
    public String diagnostics() {
        return "\n--- " + dir.resolve("ganesha.out") + ":\n" + read(dir.resolve("ganesha.out")) + "\n--- " + dir.resolve("ganesha.log")
                + ":\n" + log();
    }

    /** Ganesha's log since its last start. */
    public String log() {
        return read(dir.resolve("ganesha.log"));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    public Export export(int id) {
        return exports.stream().filter(e -> e.id() == id).findFirst().orElseThrow();
    }

    /** Stops ganesha (SIGTERM, then SIGKILL) and its rpcbind, then starts both again: same address, ports and exports. */
    public void restart() throws Exception {
        stopProcesses();
        launch();
    }

    /** Ends every process in the namespace: ganesha and its rpcbind, both started here (the namespace is this fixture's own). */
    private void stopProcesses() throws Exception {
        if (process != null) {
            process.destroy(); // ganesha itself: ip netns exec and the script exec'd it
            if (!process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(STOP_SECONDS, TimeUnit.SECONDS);
            }
        }
        killNamespacePids();
    }

    private void killNamespacePids() throws Exception {
        Commands.Result pids = Commands.run(10, "ip", "netns", "pids", name);
        if (pids.status() != 0) {
            return; // no such namespace
        }
        List<ProcessHandle> left = new ArrayList<>();
        for (String p : pids.output().strip().split("\\s+")) {
            if (p.matches("\\d+")) {
                ProcessHandle.of(Long.parseLong(p)).ifPresent(h -> {
                    h.destroyForcibly();
                    left.add(h);
                });
            }
        }
        Await.until(() -> left.stream().noneMatch(ProcessHandle::isAlive), "the processes of namespace " + name + " to end",
                STOP_SECONDS);
    }

    private void removeNetwork() throws Exception {
        killNamespacePids();
        // The host's end first: deleting it deletes its peer at once, where a namespace's deletion
        // takes its interfaces down later, in the background.
        Commands.run(10, "ip", "link", "del", name + "h");
        Commands.run(10, "ip", "netns", "del", name);
        Await.until(() -> !exists("link", "show", name + "h") && !exists("netns", "pids", name),
                "veth " + name + "h and namespace " + name + " to go", STOP_SECONDS);
    }

    private static boolean exists(String... ipArgs) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(ipArgs));
        try {
            return Commands.run(10, cmd.toArray(new String[0])).status() == 0;
        } catch (IOException | InterruptedException e) {
            return true;
        }
    }

    /** Kills everything it started and deletes the namespace and the veth pair, also after a failed start. */
    @Override
    public void close() throws Exception {
        try {
            stopProcesses();
        } finally {
            if (netUp) {
                removeNetwork();
            }
        }
    }
}
