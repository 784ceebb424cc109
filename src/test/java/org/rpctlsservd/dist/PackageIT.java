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
    /** rpc.tlsclntd's: its unit, its own user, its program RPCTLSCD (0x40677373). */
    static final String CLIENT_UNIT = "/lib/systemd/system/rpc-tlsclntd.service";
    static final String CLIENT_USER = "_rpc-tlsclntd";
    static final String RPCTLSCD = "1080521588";
    /** The directories in /etc the package makes (and a purge removes): the host's get a marker each. */
    static final List<Path> HOST_DIRS = List.of(Path.of("/etc/rpc.tlsservd"), Path.of("/etc/rpc.tlsclntd"));
    /** The unit's User= with its capability set, as systemd applies them. */
    static final String AS_USER = asUser(USER);
    /** The client unit's User= with its capability set. */
    static final String AS_CLIENT = asUser(CLIENT_USER);

    static String asUser(String user) {
        return "setpriv --reuid=" + user + " --regid=" + user + " --init-groups --no-new-privs"
                + " --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service";
    }

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

    /**
     * A NULL call over TCP to ADDR PORT for PROGRAM VERSION, printing "NULL PROGRAM VERSION accepted at
     * ADDR:PORT" or failing. Not rpcinfo: libtirpc's "rpcinfo -n PORT -t" asks rpcbind on port 111
     * whatever -n says, so it never tested the port it names. Written by hand: one record each way.
     */
    static final String NULL_CALL = String.join("\n",
            "import socket, struct, sys",
            "host, port, prog, vers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])",
            "s = socket.create_connection((host, port), 10)",
            "s.settimeout(20)",
            "body = struct.pack('>10I', 0x5eed, 0, 2, prog, vers, 0, 0, 0, 0, 0)",
            "s.sendall(struct.pack('>I', 0x80000000 | len(body)) + body)",
            "def read(n):",
            "    b = b''",
            "    while len(b) < n:",
            "        c = s.recv(n - len(b))",
            "        if not c:",
            "            sys.exit('closed by %s:%d' % (host, port))",
            "        b += c",
            "    return b",
            "r = read(struct.unpack('>I', read(4))[0] & 0x7fffffff)",
            "xid, mtype, stat, flavor, vlen = struct.unpack('>5I', r[:20])",
            "accept = struct.unpack('>I', r[20 + vlen:24 + vlen])[0]",
            "if (xid, mtype, stat, accept) != (0x5eed, 1, 0, 0):",
            "    sys.exit('refused: %r' % ((xid, mtype, stat, accept),))",
            "print('NULL %d %d accepted at %s:%d' % (prog, vers, host, port))",
            "");
    /** Where the container finds {@link #NULL_CALL} (the package's directory is its /tmp/pkg). */
    static final String NULL_CALL_INSIDE = "python3 /tmp/pkg/packageit-nullcall.py";

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
        for (Path hostDir : HOST_DIRS) {
            removeMarkersOfKilledRuns(hostDir);
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

    private static void removeMarkersOfKilledRuns(Path hostDir) throws Exception {
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
        Map<Path, Boolean> hostDirWasThere = new TreeMap<>();
        List<Path> markers = new ArrayList<>();
        for (Path hostDir : HOST_DIRS) {
            hostDirWasThere.put(hostDir, Files.exists(hostDir, LinkOption.NOFOLLOW_LINKS));
            markers.add(hostDir.resolve("packageit-marker-" + ProcessHandle.current().pid()));
        }
        Map<String, String> hostBefore = hostState();
        Files.writeString(DEB.getParent().resolve("packageit-nullcall.py"), NULL_CALL);
        try {
            for (Path marker : markers) {
                Files.createDirectories(marker.getParent());
                Files.writeString(marker, "PackageIT: the container's purge must not remove this\n");
            }

            lintianIsCleanAtPedantic();
            for (Path marker : markers) {
                assertTrue(existsInside(marker.toString()), "the container sees the host's files");
            }
            if (inside("dpkg -s rpc-tlsservd").status() == 0) {
                ok("dpkg --purge rpc-tlsservd"); // the host's installation, purged in the container only
            }
            installs();
            theReadmeInstallCommandsWork();
            theUnitsAreHardened();
            theManPagesAreClean();
            runsAsItsUserUnderTheUnitsConstraints();
            theClientRunsAsItsUserThroughTheConnectorAndTheFrontEnd();
            enablesAndPurgesLeavingNothing();
            for (Path marker : markers) {
                assertFalse(existsInside(marker.toString()), "the purge in the container removed " + marker.getParent());
            }
        } finally {
            List<Path> gone = new ArrayList<>();
            for (Path marker : markers) {
                if (Files.exists(marker)) {
                    Files.delete(marker);
                } else {
                    gone.add(marker);
                }
                if (!hostDirWasThere.get(marker.getParent())) {
                    Files.deleteIfExists(marker.getParent());
                }
            }
            Commands.run(120, "rm", "-rf", "--one-file-system", base.toString());
            if (!gone.isEmpty()) {
                throw new AssertionError("the host's markers " + gone + " are gone: the container touched the host");
            }
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
            state.put(f, Files.readAllLines(Path.of(f)).stream()
                    .filter(l -> l.startsWith(USER + ":") || l.startsWith(CLIENT_USER + ":")).toList().toString());
        }
        for (String d : List.of("/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
                "/var/lib/systemd/deb-systemd-helper-masked", "/etc/rpc.tlsservd", "/etc/rpc-tlsservd", "/etc/rpc.tlsclntd",
                "/var/cache/rpc-tlsservd", "/usr/share/rpc-tlsservd", "/run/rpc.tlsservd", "/run/rpc.tlsclntd")) {
            state.put(d, listing(Path.of(d)));
        }
        state.put(UNIT, String.valueOf(Files.exists(Path.of(UNIT))));
        state.put(CLIENT_UNIT, String.valueOf(Files.exists(Path.of(CLIENT_UNIT))));
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
                if (dir.toString().contains("tlsservd") || dir.toString().contains("tlsclntd") || ours(name)) {
                    out.append(name).append(Files.isSymbolicLink(p) ? " -> " + Files.readSymbolicLink(p) : "").append('\n');
                }
            }
        }
        return out.toString();
    }

    /** A path of the package's own (not a shared directory such as /usr/sbin). */
    static boolean ours(String path) {
        return path.contains("rpc-tlsservd") || path.contains("rpc.tlsservd") || path.contains("rpc-tlsclntd")
                || path.contains("rpc.tlsclntd");
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
                "/etc/rpc.tlsservd/rpc.tlsservd.conf", UNIT, "/usr/sbin/rpc.tlsclntd", "/usr/share/man/man8/rpc.tlsclntd.8.gz",
                "/etc/rpc.tlsclntd/rpc.tlsclntd.conf", CLIENT_UNIT)) {
            assertTrue(files.contains(f), f + " in " + files);
        }
        assertEquals(List.of("/etc/rpc.tlsclntd/rpc.tlsclntd.conf", "/etc/rpc.tlsservd/rpc.tlsservd.conf"),
                List.of(ok("sort /var/lib/dpkg/info/rpc-tlsservd.conffiles").split("\n")), "the conffiles");

        // The user and group, with no home and no shell; the one directory, for the group only.
        assertEquals(USER + ":x:/nonexistent:/usr/sbin/nologin\n",
                ok("getent passwd " + USER + " | awk -F: '{print $1\":\"$2\":\"$6\":\"$7}'"));
        assertTrue(ok("id -gn " + USER).strip().equals(USER), "its own group");
        assertTrue(ok("id -u " + USER + " | awk '$1 < 1000 {print \"system\"}'").contains("system"), "a system user");
        assertEquals("root:" + USER + " 750\n", ok("stat -c '%U:%G %a' /etc/rpc.tlsservd"));
        // The client's own user and directory, as the server's.
        assertEquals(CLIENT_USER + ":x:/nonexistent:/usr/sbin/nologin\n",
                ok("getent passwd " + CLIENT_USER + " | awk -F: '{print $1\":\"$2\":\"$6\":\"$7}'"));
        assertEquals(CLIENT_USER + "\n", ok("id -gn " + CLIENT_USER), "its own group");
        assertTrue(ok("id -u " + CLIENT_USER + " | awk '$1 < 1000 {print \"system\"}'").contains("system"), "a system user");
        assertEquals("root:" + CLIENT_USER + " 750\n", ok("stat -c '%U:%G %a' /etc/rpc.tlsclntd"));

        // The class-data archive, made for the installed JVM, where the launcher looks for it.
        assertEquals("644 root\n", ok("test -s " + JSA + " && stat -c '%a %U' " + JSA), "a non-empty archive");
        assertEquals(JSA + "\n", ok("readlink /usr/share/rpc-tlsservd/rpc-tlsservd-all.jsa"));
        Commands.Result cds = inside("RPCTLSSERVD_JAVA_OPTS='-Xshare:on -Xlog:cds=info' /usr/sbin/rpc.tlsservd --version");
        assertEquals(0, cds.status(), "the JVM maps the archive (-Xshare:on fails if it cannot)\n" + cds.output());
        assertTrue(cds.output().contains("Opened archive " + "/usr/share/rpc-tlsservd/rpc-tlsservd-all.jsa"), cds.output());

        assertEquals("rpc.tlsservd " + VERSION + "\n", ok("/usr/sbin/rpc.tlsservd --version"));
        assertEquals("rpc.tlsclntd " + VERSION + "\n", ok("/usr/sbin/rpc.tlsclntd --version"), "the link runs the client daemon");
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
        // A CA, and a server certificate from it that names nfs.example.org, as the client's example file has it.
        ok("mkdir -p /root/pki && cd /root/pki"
                + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=PackageIT CA'"
                + " -keyout cakey.pem -out ca.pem 2>/dev/null"
                + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=nfs.example.org"
                + " -keyout certkey.pem -out req.pem 2>/dev/null"
                + " && printf 'subjectAltName=DNS:nfs.example.org\\nbasicConstraints=CA:FALSE\\n' >ext.cnf"
                + " && openssl x509 -req -in req.pem -CA ca.pem -CAkey cakey.pem -CAcreateserial -days 2 -extfile ext.cnf"
                + " -out cert.pem 2>/dev/null && " + String.join(" && ", installs));
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

    void theUnitsAreHardened() throws Exception {
        double server = theUnitIsHardened(UNIT, USER, "rpc.tlsservd", "--pidfile /run/rpc.tlsservd/rpc.tlsservd.pid"
                + " --rpc-socket /run/rpc.tlsservd/rpctlssd.sock");
        assertTrue(server <= 1.7, "the server's exposure " + server + " at most tlshd's 1.7");
        double client = theUnitIsHardened(CLIENT_UNIT, CLIENT_USER, "rpc.tlsclntd", "--pidfile /run/rpc.tlsclntd/rpc.tlsclntd.pid"
                + " --rpc-socket /run/rpc.tlsclntd/rpc.tlsclntd.sock");
        assertTrue(client <= server, "the client's exposure " + client + " no worse than the server's " + server);
    }

    /** The unit's user, runtime directory and sandbox; systemd-analyze's verdict; its exposure. */
    double theUnitIsHardened(String path, String user, String runtime, String paths) throws Exception {
        String unit = ok("cat " + path);
        for (String line : List.of("User=" + user, "Group=" + user, "RuntimeDirectory=" + runtime,
                "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "UMask=0077",
                "ProtectSystem=strict", "ProtectProc=invisible", "ProcSubset=pid", "NoNewPrivileges=yes")) {
            assertTrue(unit.contains("\n" + line + "\n"), line + " in " + path);
        }
        assertTrue(unit.contains(paths), unit);

        Commands.Result verify = inside("systemd-analyze verify " + path);
        assertEquals(0, verify.status(), verify.output());
        assertEquals("", verify.output().strip(), "systemd-analyze has nothing to say about " + path);

        String name = Path.of(path).getFileName().toString();
        String security = ok("systemd-analyze security --offline=yes " + path);
        Matcher m = Pattern.compile("Overall exposure level for " + Pattern.quote(name) + ": ([0-9.]+)").matcher(security);
        assertTrue(m.find(), security);
        double exposure = Double.parseDouble(m.group(1));
        System.out.println("systemd-analyze security --offline=yes " + name + ": exposure " + exposure);
        return exposure;
    }

    void theManPagesAreClean() throws Exception {
        for (String page : List.of("/usr/share/man/man8/rpc.tlsservd.8.gz", "/usr/share/man/man5/rpc.tlsservd.conf.5.gz",
                "/usr/share/man/man8/rpc.tlsclntd.8.gz")) {
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
                NULL_CALL_INSIDE + " 127.0.0.1 2049 100000 2",
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
        Matcher pids = assertConfined(out, USER);
        assertTrue(Pattern.compile("(?m)^\\s*" + RPCTLSSD + "\\s+2\\s+tcp").matcher(out).find(), "registered with rpcbind as the user\n" + out);
        assertTrue(out.contains("NULL 100000 2 accepted at 127.0.0.1:2049\n"), "a call relayed through the front end on port 2049\n" + out);
        assertTrue(out.contains("backend connections from ports 665-1023"), "reserved source ports for the backend\n" + out);
        assertTrue(out.contains("stopped=0"), out);
        assertTrue(out.contains("left in /run/rpc.tlsservd: \n"), "a clean stop leaves neither pidfile nor socket\n" + out);
        assertTrue(out.contains("pidfile mode=644 " + USER + "\n"), "the pidfile is the user's, readable by monitors\n" + out);
        assertTrue(out.contains("read by nobody=" + pids.group(1) + "\n"), out);
    }

    /**
     * rpc.tlsclntd as its unit runs it, on the shipped file's NFS steps: the step's CA install line,
     * its verifylocs and connect lines uncommented (nfs.example.org being 127.0.0.2 in the
     * container's /etc/hosts), a CRL, and one more connector to the same server by its address,
     * which the certificate does not name. The installed server's front end listens on
     * 127.0.0.2:2049 and relays to the container's rpcbind; rpcinfo through the connector reaches it.
     */
    void theClientRunsAsItsUserThroughTheConnectorAndTheFrontEnd() throws Exception {
        String conf = "/etc/rpc.tlsclntd/rpc.tlsclntd.conf";
        String steps = ok("sed -n '/^## A connector to an NFS server/,/^## TLS/p' " + conf);
        Matcher install = Pattern.compile("(?m)^#\\s+(install -m 0644 ca.pem /etc/rpc.tlsclntd/ca.pem)$").matcher(steps);
        assertTrue(install.find(), "the CA step\n" + steps);
        String lines = ok("sed -n '/^## A connector to an NFS server/,/^## TLS/p' " + conf
                + " | sed -n 's/^#\\(verifylocs\\|connect\\) = /\\1 = /p'");
        assertEquals(List.of("verifylocs = /etc/rpc.tlsclntd/ca.pem", "connect = 127.0.0.1:2049,nfs.example.org:2049",
                "connect = 127.0.0.1:20048,nfs.example.org:20048"), List.of(lines.split("\n")), "the steps' lines");
        // The client's file: the steps' lines, a CRL, and a connector to the server by an address its certificate does not name.
        List<String> clientConf = new ArrayList<>(List.of(lines.split("\n")));
        clientConf.add("crl = /etc/rpc.tlsclntd/crl.pem");
        clientConf.add("connect = 127.0.0.1:3049,127.0.0.2:2049");
        // A CRL from the CA, revoking nothing: SIGHUP reads it again.
        ok(String.join(" && ", "cd /root/pki", "touch index.txt", "echo 01 >crlnumber",
                "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=/root/pki/index.txt\\ncrlnumber=/root/pki/crlnumber\\n"
                        + "default_md=sha256\\ndefault_crl_days=2\\n' >ca.cnf",
                "openssl ca -config ca.cnf -gencrl -keyfile cakey.pem -cert ca.pem -out crl.pem 2>/dev/null",
                install.group(1), "install -m 0644 crl.pem /etc/rpc.tlsclntd/crl.pem",
                "echo '127.0.0.2 nfs.example.org' >>/etc/hosts",
                "printf '%s\\n' '" + String.join("' '", clientConf) + "' >" + conf));

        String unit = ok("cat " + CLIENT_UNIT);
        String pre = value(unit, "ExecStartPre=");
        String start = value(unit, "ExecStart=");
        String server = value(ok("cat " + UNIT), "ExecStart=");
        String script = String.join("\n",
                "rpcbind -w",
                "install -d -o " + USER + " -g " + USER + " -m 0755 /run/rpc.tlsservd",
                "install -d -o " + CLIENT_USER + " -g " + CLIENT_USER + " -m 0755 /run/rpc.tlsclntd", // RuntimeDirectory=
                "umask 0077", // UMask=
                AS_USER + " " + server + " --listen 127.0.0.2:2049 --backend 127.0.0.1:111 >/tmp/server.log 2>&1 &",
                "spid=$!",
                "timeout 60 sh -c 'until rpcinfo -T tcp 127.0.0.1 " + RPCTLSSD + " 2 >/dev/null 2>&1; do sleep 0.05; done'"
                        + " || { cat /tmp/server.log; exit 1; }",
                AS_CLIENT + " " + pre + " || exit 1", // ExecStartPre: the check passes, on the file just written
                AS_CLIENT + " " + start + " >/tmp/client.log 2>&1 &",
                "pid=$!",
                "timeout 60 sh -c 'until rpcinfo -T tcp 127.0.0.1 " + RPCTLSCD + " 2 >/dev/null 2>&1; do sleep 0.05; done'"
                        + " || { cat /tmp/client.log; exit 1; }",
                "echo \"pid=$pid pidfile=$(cat /run/rpc.tlsclntd/rpc.tlsclntd.pid)\"",
                "echo \"pidfile mode=$(stat -c '%a %U' /run/rpc.tlsclntd/rpc.tlsclntd.pid)\"",
                "echo \"socket=$(stat -c '%a %U' /run/rpc.tlsclntd/rpc.tlsclntd.sock)\"",
                "grep -E '^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/$pid/status",
                "rpcinfo -p 127.0.0.1",
                "echo through the connector:",
                NULL_CALL_INSIDE + " 127.0.0.1 2049 100000 2",
                "echo by an address the certificate does not name:",
                NULL_CALL_INSIDE + " 127.0.0.1 3049 100000 2 2>&1 && echo unnamed=relayed || echo unnamed=refused",
                "kill -HUP $pid",
                "timeout 60 sh -c 'until grep -q \"reloaded the CRL\" /tmp/client.log; do sleep 0.05; done'"
                        + " || { echo no reload; cat /tmp/client.log; exit 1; }",
                "kill -TERM $pid",
                "wait $pid && echo stopped=0 || echo stopped=$?",
                "echo \"left in /run/rpc.tlsclntd: $(ls /run/rpc.tlsclntd)\"",
                "kill -TERM $spid; wait $spid || true",
                "echo '--- client'; cat /tmp/client.log; echo '--- server'; cat /tmp/server.log");
        Commands.Result r = inside(true, script);
        String out = r.output();
        System.out.println(out);
        assertEquals(0, r.status(), out);
        Matcher pids = assertConfined(out, CLIENT_USER);
        assertTrue(out.contains("pidfile mode=644 " + CLIENT_USER + "\n"), out);
        assertTrue(Pattern.compile("(?m)^\\s*" + RPCTLSCD + "\\s+2\\s+tcp").matcher(out).find(), "RPCTLSCD registered\n" + out);
        assertTrue(out.contains("through the connector:\nNULL 100000 2 accepted at 127.0.0.1:2049\n"),
                "a call through the connector, TLS and the front end to rpcbind\n" + out);
        assertTrue(out.contains("unnamed=refused"), "a server whose certificate does not name it is refused\n" + out);
        assertTrue(Pattern.compile("handshake server=127\\.0\\.0\\.2:2049 .*result=ok .*name=nfs\\.example\\.org").matcher(out).find(),
                "the client's audit line: the certificate named the server\n" + out);
        assertTrue(Pattern.compile("handshake server=127\\.0\\.0\\.2:2049 .*result=failed .*name=127\\.0\\.0\\.2 .*reason=\"[^\"]*match")
                .matcher(out).find(), "the refusal says why\n" + out);
        assertTrue(out.contains("server connections from ports 665-1023"), "reserved source ports toward the server\n" + out);
        Matcher peer = Pattern.compile("handshake peer=127\\.0\\.0\\.\\d+:(\\d+) .*result=ok").matcher(out);
        assertTrue(peer.find(), "the front end's audit line\n" + out);
        assertTrue(Integer.parseInt(peer.group(1)) < 1024, "the connector came from a reserved port: " + peer.group());
        assertTrue(out.contains("reloaded the CRL (/etc/rpc.tlsclntd/crl.pem)"), out);
        assertTrue(out.contains("stopped=0"), out);
        assertTrue(out.contains("left in /run/rpc.tlsclntd: \n"), "a clean stop leaves neither pidfile nor socket\n" + out);
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
        String clientLink = "/etc/systemd/system/multi-user.target.wants/rpc-tlsclntd.service";
        ok("systemctl enable rpc-tlsservd.service rpc-tlsclntd.service"); // in a chroot: offline, on the files
        assertTrue(existsInside(link), "enabled");
        assertTrue(existsInside(clientLink), "the client enabled");
        List<String> files = List.of(ok("dpkg -L rpc-tlsservd").split("\n"));

        ok("dpkg --purge rpc-tlsservd");
        for (String f : files) {
            boolean shared = !ours(f);
            assertTrue(shared || !existsInside(f), "left behind: " + f);
        }
        for (String gone : List.of(link, "/etc/rpc.tlsservd", "/var/cache/rpc-tlsservd", "/usr/share/rpc-tlsservd",
                "/etc/rpc-tlsservd", "/etc/systemd/system/rpc-tlsservd.service",
                "/var/lib/systemd/deb-systemd-helper-enabled/rpc-tlsservd.service.dsh-also",
                "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/rpc-tlsservd.service",
                clientLink, "/etc/rpc.tlsclntd", "/etc/systemd/system/rpc-tlsclntd.service",
                "/var/lib/systemd/deb-systemd-helper-enabled/rpc-tlsclntd.service.dsh-also",
                "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/rpc-tlsclntd.service")) {
            assertFalse(existsInside(gone), "left behind: " + gone);
        }
        assertEquals(2, inside("getent passwd " + USER).status(), "the user is gone");
        assertEquals(2, inside("getent group " + USER).status(), "the group is gone");
        assertEquals(2, inside("getent passwd " + CLIENT_USER).status(), "the client's user is gone");
        assertEquals(2, inside("getent group " + CLIENT_USER).status(), "the client's group is gone");
        assertTrue(inside("dpkg -s rpc-tlsservd").status() != 0, "dpkg knows nothing of it any more");
    }

    /**
     * What a unit's script printed of its daemon: the pidfile names it, its RPC socket is the user's,
     * it runs as {@code user} with CAP_NET_BIND_SERVICE alone and no new privileges. Returns the pid match.
     */
    private Matcher assertConfined(String out, String user) throws Exception {
        Matcher pids = Pattern.compile("pid=(\\d+) pidfile=(\\d+)").matcher(out);
        assertTrue(pids.find(), out);
        assertEquals(pids.group(1), pids.group(2), "the pidfile names the daemon (the launcher execs the JVM)");
        assertTrue(out.contains("socket=600 " + user + "\n"), out);
        String uid = ok("id -u " + user).strip();
        assertTrue(Pattern.compile("(?m)^Uid:\\s+" + uid + "\\s+" + uid + "\\s+" + uid + "\\s+" + uid + "$").matcher(out).find(), out);
        for (String caps : List.of("CapEff", "CapBnd", "CapAmb")) {
            assertTrue(out.contains(caps + ":\t0000000000000400\n"), "CAP_NET_BIND_SERVICE only: " + caps + "\n" + out);
        }
        assertTrue(out.contains("NoNewPrivs:\t1\n"), out);
        return pids;
    }
}
