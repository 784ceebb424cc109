package org.rpctlsservd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.support.Commands;

/**
 * The Debian package that {@code package} made, installed, run, reloaded and purged for real, but
 * inside a container the test makes, never on the host: an overlay of / whose changes go to a
 * temporary directory, in its own mount, PID and network namespaces (so its rpcbind and ports are
 * its own), entered with chroot. dpkg, adduser, systemctl enable and the purge all happen there; a
 * package installed on the host, its user and its enablement stay as they were, which the test
 * checks with a marker in the host's /etc/rpc.tlsservd/ and checksums of the host's state.
 *
 * <p>systemd is not PID 1 here, so the unit is run as systemd would run it, by hand: its ExecStart
 * as its User with its one capability (setpriv), under its umask, with / read-only
 * (ProtectSystem=strict) and a /proc of its own processes only (ProtectProc=invisible,
 * ProcSubset=pid).
 */
class PackageIT {
    static final String VERSION = System.getProperty("rpctlsservd.version");
    static final Path DEB = Path.of("target", "rpc-tlsservd_" + VERSION + "_all.deb").toAbsolutePath();
    static final String UNIT = "/lib/systemd/system/rpc-tlsservd.service";
    static final String USER = "_rpc-tlsservd";
    static final String JSA = "/var/cache/rpc-tlsservd/rpc-tlsservd-all.jsa";
    /** The RPCTLSSD program number (0x40677374). */
    static final String RPCTLSSD = "1080521589";
    /** The unit's User= with its capability set, as systemd applies them. */
    static final String AS_USER = "setpriv --reuid=" + USER + " --regid=" + USER + " --init-groups --no-new-privs"
            + " --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service";

    /**
     * Run inside the new namespaces: the overlay, /proc, /dev, a fresh /run and /tmp (so that no
     * host socket, pidfile or systemd state is seen), the package's directory at /tmp/pkg, loopback up,
     * then chroot. With "hardened",
     * the overlay is read-only and /proc shows only processes, as the unit's sandbox has it.
     */
    static final String ENTER = String.join("\n",
            "base=$1; hardened=$2; script=$3; pkg=$4",
            "m=$base/merged",
            "mount -t overlay overlay -o \"lowerdir=/,upperdir=$base/upper,workdir=$base/work\" \"$m\"",
            // Under tools/test /etc is a mount of its own (a layer over the host's), which an overlay of / leaves out.
            "if mountpoint -q /etc; then",
            "  mount -t overlay overlay -o \"lowerdir=/etc,upperdir=$base/etc-upper,workdir=$base/etc-work\" \"$m/etc\"",
            "fi",
            "if [ \"$hardened\" = 1 ]; then",
            "  mount -o remount,ro \"$m\"",
            "  if mountpoint -q \"$m/etc\"; then mount -o remount,ro \"$m/etc\"; fi",
            "  mount -t proc -o subset=pid,hidepid=invisible proc \"$m/proc\"",
            "else",
            "  mount -t proc proc \"$m/proc\"",
            "fi",
            "mount --rbind /dev \"$m/dev\"",
            "mount -t tmpfs -o mode=0755 tmpfs \"$m/run\"",
            "mount -t tmpfs -o mode=1777 tmpfs \"$m/tmp\"",
            // The package, wherever the checkout is (a checkout under /tmp is not in the overlay of /).
            "mkdir \"$m/tmp/pkg\" && mount --bind \"$pkg\" \"$m/tmp/pkg\"",
            "ip link set lo up",
            "exec chroot \"$m\" sh -ec \"$script\"");

    private final Path base;

    PackageIT() throws Exception {
        removeWhatKilledRunsLeft();
        base = Files.createTempDirectory("packageit-" + ProcessHandle.current().pid() + "-");
        for (String d : List.of("upper", "work", "merged", "etc-upper", "etc-work")) {
            Files.createDirectory(base.resolve(d));
        }
    }

    /**
     * A run killed before its finally leaves its marker in the host's /etc/rpc.tlsservd/ (and the
     * directory, if it made it) and its container's directory: each names the run's process.
     */
    static void removeWhatKilledRunsLeft() throws Exception {
        Path hostDir = Path.of("/etc/rpc.tlsservd");
        if (Files.isDirectory(hostDir)) {
            boolean removed = false;
            try (Stream<Path> s = Files.list(hostDir)) {
                for (Path p : s.toList()) {
                    Matcher m = Pattern.compile("packageit-marker-(\\d+)").matcher(p.getFileName().toString());
                    if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                        Files.delete(p);
                        removed = true;
                    }
                }
            }
            boolean empty;
            try (Stream<Path> s = Files.list(hostDir)) {
                empty = s.findAny().isEmpty();
            }
            if (removed && empty && Commands.run(60, "dpkg", "-s", "rpc-tlsservd").status() != 0) {
                Files.delete(hostDir);
            }
        }
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            for (Path p : s.toList()) {
                Matcher m = Pattern.compile("packageit-(\\d+)-\\d+").matcher(p.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                    Commands.run(120, "rm", "-rf", "--one-file-system", p.toString());
                }
            }
        }
    }

    /** Runs {@code script} (sh -e) in a fresh container over the same overlay; what it changed stays for the next one. */
    Commands.Result inside(boolean hardened, String script) throws Exception {
        return Commands.run(600, "unshare", "--mount", "--pid", "--net", "--fork", "--propagation", "private",
                "sh", "-ec", ENTER, "sh", base.toString(), hardened ? "1" : "0", script, DEB.getParent().toString());
    }

    Commands.Result inside(String script) throws Exception {
        return inside(false, script);
    }

    /** Asserts the script succeeded and returns its output. */
    String ok(String script) throws Exception {
        Commands.Result r = inside(script);
        assertEquals(0, r.status(), script + "\n" + r.output());
        return r.output();
    }

    boolean existsInside(String path) throws Exception {
        return inside("test -e " + path + " || test -L " + path).status() == 0;
    }

    @Test
    void installsRunsAsItsUserAndPurgesCleanInAContainer() throws Exception {
        assertTrue(Files.isRegularFile(DEB), "the package " + DEB);
        Path hostDir = Path.of("/etc/rpc.tlsservd");
        boolean hostDirWasThere = Files.exists(hostDir, LinkOption.NOFOLLOW_LINKS);
        Path marker = hostDir.resolve("packageit-marker-" + ProcessHandle.current().pid());
        Map<String, String> hostBefore = hostState();
        try {
            Files.createDirectories(hostDir);
            Files.writeString(marker, "PackageIT: the container's purge must not remove this\n");

            lintianIsCleanAtPedantic();
            assertTrue(existsInside(marker.toString()), "the container sees the host's files");
            if (inside("dpkg -s rpc-tlsservd").status() == 0) {
                ok("dpkg --purge rpc-tlsservd"); // the host's installation, purged in the container only
            }
            installs();
            theReadmeInstallCommandsWork();
            theUnitIsHardened();
            theManPagesAreClean();
            runsAsItsUserUnderTheUnitsConstraints();
            enablesAndPurgesLeavingNothing();
            assertFalse(existsInside(marker.toString()), "the purge in the container removed /etc/rpc.tlsservd/");
        } finally {
            if (Files.exists(marker)) {
                Files.delete(marker);
            } else {
                throw new AssertionError("the host's marker " + marker + " is gone: the container touched the host");
            }
            if (!hostDirWasThere) {
                Files.delete(hostDir);
            }
            Commands.run(120, "rm", "-rf", "--one-file-system", base.toString());
        }
        assertEquals(hostBefore, hostState(), "the host's users, packages, units and directories are as they were");
    }

    /**
     * What the container must not change on the host: the package's user and group, dpkg's record
     * of it, its enablement links, its paths. Only what concerns the package: other tests on this
     * machine add users and registrations of their own meanwhile.
     */
    static Map<String, String> hostState() throws Exception {
        Map<String, String> state = new TreeMap<>();
        for (String f : List.of("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")) {
            state.put(f, Files.readAllLines(Path.of(f)).stream().filter(l -> l.startsWith(USER + ":")).toList().toString());
        }
        for (String d : List.of("/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
                "/var/lib/systemd/deb-systemd-helper-masked", "/etc/rpc.tlsservd", "/etc/rpc-tlsservd",
                "/var/cache/rpc-tlsservd", "/usr/share/rpc-tlsservd", "/run/rpc.tlsservd")) {
            state.put(d, listing(Path.of(d)));
        }
        state.put(UNIT, String.valueOf(Files.exists(Path.of(UNIT))));
        state.put("dpkg -s rpc-tlsservd", Commands.run(60, "dpkg", "-s", "rpc-tlsservd").output());
        return state;
    }

    /** The entries under {@code dir} that belong to the package (all of them in its own directories), with link targets. */
    static String listing(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return "absent";
        }
        StringBuilder out = new StringBuilder();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                String name = p.toString();
                if (dir.toString().contains("tlsservd") || name.contains("rpc-tlsservd") || name.contains("rpc.tlsservd")) {
                    out.append(name).append(Files.isSymbolicLink(p) ? " -> " + Files.readSymbolicLink(p) : "").append('\n');
                }
            }
        }
        return out.toString();
    }

    void lintianIsCleanAtPedantic() throws Exception {
        Commands.Result lint = Commands.run(600, "lintian", "--pedantic", "-I", "-E", "--tag-display-limit", "0", DEB.toString());
        List<String> tags = new ArrayList<>();
        for (String line : lint.output().split("\n")) {
            if (line.matches("^[EWIPX]: .*")) {
                tags.add(line);
            }
        }
        assertEquals(List.of(), tags, "lintian --pedantic (justified tags are overridden in src/deb/lintian)\n" + lint.output());
    }

    void installs() throws Exception {
        ok("dpkg -i /tmp/pkg/" + DEB.getFileName());
        List<String> files = List.of(ok("dpkg -L rpc-tlsservd").split("\n"));
        for (String f : List.of("/usr/sbin/rpc.tlsservd", "/usr/share/rpc-tlsservd/rpc-tlsservd-all.jar",
                "/usr/share/man/man8/rpc.tlsservd.8.gz", "/usr/share/man/man5/rpc.tlsservd.conf.5.gz",
                "/etc/rpc.tlsservd/rpc.tlsservd.conf", UNIT)) {
            assertTrue(files.contains(f), f + " in " + files);
        }
        assertEquals("/etc/rpc.tlsservd/rpc.tlsservd.conf\n", ok("cat /var/lib/dpkg/info/rpc-tlsservd.conffiles"), "the conffile");

        // The user and group, with no home and no shell; the one directory, for the group only.
        assertEquals(USER + ":x:/nonexistent:/usr/sbin/nologin\n",
                ok("getent passwd " + USER + " | awk -F: '{print $1\":\"$2\":\"$6\":\"$7}'"));
        assertTrue(ok("id -gn " + USER).strip().equals(USER), "its own group");
        assertTrue(ok("id -u " + USER + " | awk '$1 < 1000 {print \"system\"}'").contains("system"), "a system user");
        assertEquals("root:" + USER + " 750\n", ok("stat -c '%U:%G %a' /etc/rpc.tlsservd"));

        // The class-data archive, made for the installed JVM, where the launcher looks for it.
        assertEquals("644 root\n", ok("test -s " + JSA + " && stat -c '%a %U' " + JSA), "a non-empty archive");
        assertEquals(JSA + "\n", ok("readlink /usr/share/rpc-tlsservd/rpc-tlsservd-all.jsa"));
        Commands.Result cds = inside("RPCTLSSERVD_JAVA_OPTS='-Xshare:on -Xlog:cds=info' /usr/sbin/rpc.tlsservd --version");
        assertEquals(0, cds.status(), "the JVM maps the archive (-Xshare:on fails if it cannot)\n" + cds.output());
        assertTrue(cds.output().contains("Opened archive " + "/usr/share/rpc-tlsservd/rpc-tlsservd-all.jsa"), cds.output());

        assertEquals("rpc.tlsservd " + VERSION + "\n", ok("/usr/sbin/rpc.tlsservd --version"));
    }

    /** The README's install lines for the certificate and key, as written, then --check as the unit's user. */
    void theReadmeInstallCommandsWork() throws Exception {
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        List<String> installs = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^    (install [^#\\n]*?)\\s*(?:#.*)?$").matcher(readme);
        while (m.find()) {
            installs.add(m.group(1));
        }
        assertTrue(installs.stream().anyMatch(l -> l.contains("-o " + USER) && l.contains("-m 0600") && l.contains("certkey.pem")),
                "the README installs the key for the user only: " + installs);
        ok("mkdir -p /root/pki && cd /root/pki"
                + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
                + " -keyout certkey.pem -out cert.pem 2>/dev/null && " + String.join(" && ", installs));
        assertEquals(USER + " 600\n", ok("stat -c '%U %a' /etc/rpc.tlsservd/certkey.pem"));
        String check = " /usr/sbin/rpc.tlsservd --config /etc/rpc.tlsservd/rpc.tlsservd.conf --check";
        Commands.Result asUser = inside(true, "umask 0077; " + AS_USER + check);
        assertEquals(0, asUser.status(), "the unit's user reads its key\n" + asUser.output());
        Commands.Result asNobody = inside(true, "setpriv --reuid=nobody --regid=nogroup --clear-groups" + check);
        assertEquals(1, asNobody.status(), "nobody else reads the directory\n" + asNobody.output());

        // The shipped file's NFS steps, uncommented, with a loopback address of this host for the example's public one.
        String nfs = ok("sed -n '/^## An NFS server/,/^## TLS/p' /etc/rpc.tlsservd/rpc.tlsservd.conf"
                + " | sed -n 's/^#\\(relay\\|require\\) = /\\1 = /p' | sed 's/^relay = 198.51.100.2:/relay = 127.0.0.2:/' | tee /root/nfs.conf");
        assertEquals(List.of("relay = 127.0.0.2:2049,127.0.0.1:2049,nfs", "relay = 127.0.0.2:20048,127.0.0.1:20049,mountd",
                "require = tls"), List.of(nfs.split("\n")), "the relays for nfs and mountd, and require");
        Commands.Result nfsCheck = inside(true, "cp /root/nfs.conf /tmp/nfs.conf && " + AS_USER
                + " /usr/sbin/rpc.tlsservd --config /tmp/nfs.conf --check");
        assertEquals(0, nfsCheck.status(), "the NFS front end of the shipped file's steps passes --check\n" + nfsCheck.output());
    }

    void theUnitIsHardened() throws Exception {
        String unit = ok("cat " + UNIT);
        for (String line : List.of("User=" + USER, "Group=" + USER, "RuntimeDirectory=rpc.tlsservd",
                "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "UMask=0077",
                "ProtectSystem=strict", "ProtectProc=invisible", "ProcSubset=pid", "NoNewPrivileges=yes")) {
            assertTrue(unit.contains("\n" + line + "\n"), line + " in the unit");
        }
        assertTrue(unit.contains("--pidfile /run/rpc.tlsservd/rpc.tlsservd.pid --rpc-socket /run/rpc.tlsservd/rpctlssd.sock"), unit);

        Commands.Result verify = inside("systemd-analyze verify " + UNIT);
        assertEquals(0, verify.status(), verify.output());
        assertEquals("", verify.output().strip(), "systemd-analyze has nothing to say about the unit");

        String security = ok("systemd-analyze security --offline=yes " + UNIT);
        Matcher m = Pattern.compile("Overall exposure level for rpc-tlsservd.service: ([0-9.]+)").matcher(security);
        assertTrue(m.find(), security);
        double exposure = Double.parseDouble(m.group(1));
        System.out.println("systemd-analyze security --offline=yes: exposure " + exposure);
        assertTrue(exposure <= 1.7, "exposure " + exposure + " at most tlshd's 1.7\n" + security);
    }

    void theManPagesAreClean() throws Exception {
        for (String page : List.of("/usr/share/man/man8/rpc.tlsservd.8.gz", "/usr/share/man/man5/rpc.tlsservd.conf.5.gz")) {
            assertEquals("", ok("mandoc -Tlint -W warning " + page), "mandoc on " + page);
            // What lintian's groff-message runs: groff's warnings, such as a line it cannot break.
            assertEquals("", ok("LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z " + page
                    + " 2>&1 >/dev/null"), "groff on " + page);
        }
    }

    /**
     * The unit's ExecStartPre, ExecStart and ExecReload run by hand as systemd would, on the
     * certificate and key the README's lines installed: a listener on the reserved port 2049
     * relaying to the container's rpcbind from reserved source ports.
     */
    void runsAsItsUserUnderTheUnitsConstraints() throws Exception {
        String unit = ok("cat " + UNIT);
        String pre = value(unit, "ExecStartPre=");
        String start = value(unit, "ExecStart=");
        String reloadCheck = value(unit, "ExecReload=");
        String script = String.join("\n",
                "rpcbind -w",
                "install -d -o " + USER + " -g " + USER + " -m 0755 /run/rpc.tlsservd", // RuntimeDirectory=
                "umask 0077", // UMask=
                AS_USER + " " + pre,
                AS_USER + " " + start + " --listen 127.0.0.1:2049 --backend 127.0.0.1:111"
                        + " --backend-source-ports reserved >/tmp/daemon.log 2>&1 &",
                "pid=$!",
                "timeout 60 sh -c 'until rpcinfo -T tcp 127.0.0.1 " + RPCTLSSD + " 2 >/dev/null 2>&1; do sleep 0.05; done'"
                        + " || { cat /tmp/daemon.log; exit 1; }",
                "echo \"pid=$pid pidfile=$(cat /run/rpc.tlsservd/rpc.tlsservd.pid)\"",
                "echo \"pidfile mode=$(stat -c '%a %U' /run/rpc.tlsservd/rpc.tlsservd.pid)\"",
                "echo \"read by nobody=$(setpriv --reuid=nobody --regid=nogroup --clear-groups cat /run/rpc.tlsservd/rpc.tlsservd.pid)\"",
                "echo \"socket=$(stat -c '%a %U' /run/rpc.tlsservd/rpctlssd.sock)\"",
                "grep -E '^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/$pid/status",
                "rpcinfo -p 127.0.0.1",
                "rpcinfo -n 2049 -t 127.0.0.1 100000 2",
                AS_USER + " " + reloadCheck,
                "kill -HUP $pid",
                "timeout 60 sh -c 'until grep -q \"reloaded the server certificate and key\" /tmp/daemon.log; do sleep 0.05; done'"
                        + " || { echo no reload; cat /tmp/daemon.log; exit 1; }",
                "kill -TERM $pid",
                "wait $pid && echo stopped=0 || echo stopped=$?",
                "echo \"left in /run/rpc.tlsservd: $(ls /run/rpc.tlsservd)\"",
                "cat /tmp/daemon.log");
        Commands.Result r = inside(true, script);
        String out = r.output();
        System.out.println(out);
        assertEquals(0, r.status(), out);
        Matcher pids = Pattern.compile("pid=(\\d+) pidfile=(\\d+)").matcher(out);
        assertTrue(pids.find(), out);
        assertEquals(pids.group(1), pids.group(2), "the pidfile names the daemon (the launcher execs the JVM)");
        assertTrue(out.contains("socket=600 " + USER + "\n"), out);
        String uid = ok("id -u " + USER).strip();
        assertTrue(Pattern.compile("(?m)^Uid:\\s+" + uid + "\\s+" + uid + "\\s+" + uid + "\\s+" + uid + "$").matcher(out).find(), out);
        for (String caps : List.of("CapEff", "CapBnd", "CapAmb")) {
            assertTrue(out.contains(caps + ":\t0000000000000400\n"), "CAP_NET_BIND_SERVICE only: " + caps + "\n" + out);
        }
        assertTrue(out.contains("NoNewPrivs:\t1\n"), out);
        assertTrue(Pattern.compile("(?m)^\\s*" + RPCTLSSD + "\\s+2\\s+tcp").matcher(out).find(), "registered with rpcbind as the user\n" + out);
        assertTrue(out.contains("program 100000 version 2 ready and waiting"), "a call relayed through the front end on port 2049\n" + out);
        assertTrue(out.contains("backend connections from ports 665-1023"), "reserved source ports for the backend\n" + out);
        assertTrue(out.contains("stopped=0"), out);
        assertTrue(out.contains("left in /run/rpc.tlsservd: \n"), "a clean stop leaves neither pidfile nor socket\n" + out);
        assertTrue(out.contains("pidfile mode=644 " + USER + "\n"), "the pidfile is the user's, readable by monitors\n" + out);
        assertTrue(out.contains("read by nobody=" + pids.group(1) + "\n"), out);
    }

    static String value(String unit, String key) {
        for (String line : unit.split("\n")) {
            if (line.startsWith(key)) {
                return line.substring(key.length());
            }
        }
        throw new AssertionError(key + " in the unit");
    }

    void enablesAndPurgesLeavingNothing() throws Exception {
        String link = "/etc/systemd/system/multi-user.target.wants/rpc-tlsservd.service";
        ok("systemctl enable rpc-tlsservd.service"); // in a chroot: offline, on the files
        assertTrue(existsInside(link), "enabled");
        List<String> files = List.of(ok("dpkg -L rpc-tlsservd").split("\n"));

        ok("dpkg --purge rpc-tlsservd");
        for (String f : files) {
            boolean shared = !f.contains("rpc-tlsservd") && !f.contains("rpc.tlsservd");
            assertTrue(shared || !existsInside(f), "left behind: " + f);
        }
        for (String gone : List.of(link, "/etc/rpc.tlsservd", "/var/cache/rpc-tlsservd", "/usr/share/rpc-tlsservd",
                "/etc/rpc-tlsservd", "/etc/systemd/system/rpc-tlsservd.service",
                "/var/lib/systemd/deb-systemd-helper-enabled/rpc-tlsservd.service.dsh-also",
                "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/rpc-tlsservd.service")) {
            assertFalse(existsInside(gone), "left behind: " + gone);
        }
        assertEquals(2, inside("getent passwd " + USER).status(), "the user is gone");
        assertEquals(2, inside("getent group " + USER).status(), "the group is gone");
        assertTrue(inside("dpkg -s rpc-tlsservd").status() != 0, "dpkg knows nothing of it any more");
    }
}
