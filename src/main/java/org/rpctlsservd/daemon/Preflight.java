package org.rpctlsservd.daemon;

import org.rpctlsservd.frontend.Relay;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.bouncycastle.cert.X509CertificateHolder;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.cli.Config;

/**
 * The checks a start runs before it takes the pidfile or binds anything: the TLS context (certdir
 * pair, CA file and directory, CRL, cipher names), the certificate's dates, and the addresses to
 * listen on. {@code --check} runs exactly these, so it answers as a start would and can run beside
 * a running daemon. Errors stop the start; warnings are said and the start goes on.
 */
final class Preflight {
    /** A certificate that expires sooner than this is warned of. */
    static final Duration EXPIRY_WARNING = Duration.ofDays(30);
    /** The packaged daemon's user: the owner its key files should have. */
    static final String DAEMON_USER = "_rpc-tlsservd";
    /** Where the package's configuration file shows a working front end for an NFS server. */
    static final String EXAMPLE_CONF = "/etc/rpc.tlsservd/rpc.tlsservd.conf";
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);

    private Preflight() {
    }

    /** A refusal: the message is the whole line to print after the program name. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /** What the checks found usable: the TLS material (a start serves with it rather than read it all again) and the warnings. */
    record Checked(TlsSetup.Material tls, List<String> warnings) {
    }

    /** Runs every check; returns the TLS material and the warnings (each a line to print after "warning: "), or throws the first error. */
    static Checked run(Config config) throws Refused {
        return run(config, Instant.now());
    }

    /** The warnings of {@link #run} as of {@code now}. */
    static List<String> check(Config config, Instant now) throws Refused {
        return run(config, now).warnings();
    }

    private static Checked run(Config config, Instant now) throws Refused {
        TlsSetup.Material tls;
        try {
            tls = TlsSetup.material(config);
        } catch (TlsSetup.SetupException e) {
            throw new Refused(e.getMessage());
        }
        ServerCredentials credentials = tls.credentials();
        TrustMaterial trust = tls.trust();
        List<String> warnings = new ArrayList<>();
        if (!config.throwawayCert()) {
            dates(ServerCredentials.certFile(config.certDir()), credentials.chain(), now, warnings);
        }
        ownAddress("--rpc-address", config.rpcAddress());
        for (Relay r : config.allRelays()) {
            ownAddress(listenOption(config, r), r.listen());
        }
        for (java.net.InetAddress a : config.backendSources()) {
            ownAddress("--backend-source", new InetSocketAddress(a, 0));
        }
        if (config.metrics() != null) {
            ownAddress("--metrics", config.metrics());
        }
        Path socketDir = config.rpcSocket().getParent();
        if (socketDir != null && !Files.isDirectory(socketDir)) {
            throw new Refused("--rpc-socket " + config.rpcSocket() + ": no directory " + socketDir);
        }

        if (!config.throwawayCert()) {
            if (config.keyUri() == null) {
                secret(ServerCredentials.keyFile(config.certDir()), "--certdir", "the private key", warnings);
            } else {
                Path pin = TlsSetup.keySource(config).token().pinFile();
                if (pin != null) {
                    secret(pin, "--key-uri pin-source", "the PIN", warnings);
                }
            }
            if (config.keyPassphraseFile() != null) {
                secret(config.keyPassphraseFile(), "--key-passphrase-file", "the key's passphrase", warnings);
            }
        }
        if (trust != null) {
            reachesCa(config, credentials, trust, warnings);
        }
        bindable("--rpc-address", config.rpcAddress(), config, warnings);
        for (Relay r : config.allRelays()) {
            bindable(listenOption(config, r), r.listen(), config, warnings);
        }
        if (config.metrics() != null) {
            bindable("--metrics", config.metrics(), config, warnings);
        }
        if (config.allRelays().isEmpty() && "Linux".equals(System.getProperty("os.name"))) {
            warnings.add("no --listen or --relay: the daemon serves only the RPCTLSSD upcall program, which only FreeBSD's"
                    + " kernel calls; to put TLS in front of an NFS server, see the example in " + EXAMPLE_CONF);
        }
        return new Checked(tls, warnings);
    }

    private static String listenOption(Config config, Relay r) {
        return config.listen().contains(r.listen()) ? "--listen" : "--relay";
    }

    /** Expired: an error (every client refuses it). Expiring within 30 days, or not valid yet: a warning. */
    private static void dates(Path file, List<X509CertificateHolder> chain, Instant now, List<String> warnings) throws Refused {
        String at = file + " (" + ServerCredentials.CERTDIR_OPTION + "): ";
        for (int i = 0; i < chain.size(); i++) {
            X509CertificateHolder c = chain.get(i);
            String which = (i == 0 ? "the certificate" : "the chain's certificate " + (i + 1)) + " (" + Dn.oneline(c.getSubject()) + ")";
            Instant[] validity = ServerCredentials.validity(c);
            Instant notBefore = validity[0];
            Instant notAfter = validity[1];
            if (!notAfter.isAfter(now)) {
                throw new Refused(at + which + " expired on " + DATE.format(notAfter) + "; renew it");
            }
            if (Duration.between(now, notAfter).compareTo(EXPIRY_WARNING) < 0) {
                long days = Duration.between(now, notAfter).toDays();
                warnings.add(at + which + " expires on " + DATE.format(notAfter) + ", in "
                        + (days == 0 ? "less than a day" : days == 1 ? "1 day" : days + " days") + "; renew it");
            }
            if (notBefore.isAfter(now)) {
                warnings.add(at + which + " is not valid before " + DATE.format(notBefore)
                        + "; clients refuse it until then (or this host's clock is wrong)");
            }
        }
    }

    /** A file holding a secret: group and others should have no access to it. */
    private static void secret(Path file, String option, String what, List<String> warnings) {
        Set<PosixFilePermission> mode;
        UserPrincipal owner;
        try {
            mode = Files.getPosixFilePermissions(file);
            owner = Files.getOwner(file);
        } catch (IOException | UnsupportedOperationException e) {
            return; // no POSIX modes here; a file that cannot be read was refused before
        }
        List<String> readers = new ArrayList<>();
        List<String> writers = new ArrayList<>();
        for (String who : new String[] {"group", "others"}) {
            boolean g = who.equals("group");
            if (mode.contains(g ? PosixFilePermission.GROUP_READ : PosixFilePermission.OTHERS_READ)) {
                readers.add(who);
            } else if (mode.contains(g ? PosixFilePermission.GROUP_WRITE : PosixFilePermission.OTHERS_WRITE)) {
                writers.add(who);
            }
        }
        if (readers.isEmpty() && writers.isEmpty()) {
            return;
        }
        String fix = "chmod 0600 " + file;
        if (!owner.getName().equals(DAEMON_USER) && userExists(DAEMON_USER)) {
            fix += " and chown " + DAEMON_USER + " " + file;
        }
        String open = !readers.isEmpty() ? "readable by " + String.join(" and ", readers) : "writable by " + String.join(" and ", writers);
        warnings.add(file + " (" + option + "): " + what + " is " + open + " (mode " + octal(mode) + "); " + fix);
    }

    private static String octal(Set<PosixFilePermission> mode) {
        String rwx = PosixFilePermissions.toString(mode);
        int bits = 0;
        for (int i = 0; i < 9; i++) {
            bits = bits << 1 | (rwx.charAt(i) == '-' ? 0 : 1);
        }
        return String.format("%04o", bits);
    }

    private static boolean userExists(String name) {
        try {
            java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(name);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** -m with --verifylocs/--verifydir: the server's own chain checked against those CAs, as such a client would. */
    private static void reachesCa(Config config, ServerCredentials credentials, TrustMaterial trust, List<String> warnings) {
        TrustMaterial.Verification v = trust.verify(credentials.chain());
        if (v.verified() || v.notAllowed()) {
            return; // notAllowed: the chain verified; the allow-list is for clients
        }
        List<String> options = new ArrayList<>();
        if (config.caFile() != null) {
            options.add("--verifylocs " + config.caFile());
        }
        if (config.caPath() != null) {
            options.add("--verifydir " + config.caPath());
        }
        String what = config.throwawayCert() ? "the throwaway certificate" : ServerCredentials.certFile(config.certDir()) + " (" + ServerCredentials.CERTDIR_OPTION + ")";
        warnings.add(what + ": the server's chain does not reach a CA of " + String.join(" or ", options) + " (" + v.reason()
                + "); clients that trust only those CAs refuse this server");
    }

    /**
     * rpc.tlsclntd's checks beyond its TLS files (ClientSetup's): the addresses it would bind, as
     * warnings, as {@link #run} does for the server.
     */
    static List<String> client(Config config) {
        List<String> warnings = new java.util.ArrayList<>();
        bindable("--rpc-address", config.rpcAddress(), config, warnings);
        for (org.rpctlsservd.frontend.Connect c : config.connects()) {
            bindable("--connect", c.listen(), config, warnings);
            if (!c.listen().getAddress().isLoopbackAddress()) {
                warnings.add("--connect " + addr(c.listen()) + ": plain RPC beyond this host: whoever reaches it reaches "
                        + c.serverHost() + " over TLS" + (config.mutualVerify() ? " with this daemon's client certificate (-m)" : "")
                        + "; listen on loopback unless that network is trusted");
            }
        }
        boolean verifies = config.caFile() != null || config.caPath() != null;
        if (!config.connects().isEmpty() && !verifies) {
            warnings.add("no -l or -p: the servers' certificates are not checked, so anyone on the path can pose as a server");
        }
        if (config.allowPlain() && verifies) {
            warnings.add("--allow-plain: anyone on the path who answers the STARTTLS probe without STARTTLS turns TLS off for"
                    + " that connection, whatever -l or -p check");
        }
        if (config.metrics() != null) {
            bindable("--metrics", config.metrics(), config, warnings);
        }
        if (config.connects().isEmpty() && "Linux".equals(System.getProperty("os.name"))) {
            warnings.add("no --connect: the daemon serves only the RPCTLSCD upcall program, which only FreeBSD's kernel calls;"
                    + " to give plain RPC clients TLS, add --connect [addr:]port,server:port");
        }
        return warnings;
    }

    /**
     * Binds {@code a} (without listening) and lets it go at once: a port in use (by a running daemon, say) or one this
     * user may not bind is a warning, so that --check still runs beside the daemon it checks.
     */
    private static void bindable(String option, InetSocketAddress a, Config config, List<String> warnings) {
        if (a.getPort() == 0) {
            return; // any free port
        }
        // A plain socket, bound but never listening: nobody can connect to the check in the meantime
        // (a client taking it for the daemon), and Linux still refuses the bind while a listener holds the port.
        try (java.net.Socket s = new java.net.Socket()) {
            s.setReuseAddress(true); // as the daemon's listeners: a closed connection in TIME_WAIT does not count
            s.bind(a);
        } catch (BindException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("in use")) {
                warnings.add(option + " " + addr(a) + ": in use, " + holder(config, a) + "; a start now fails");
            } else if (m.contains("ermission")) {
                warnings.add(option + " " + addr(a) + ": this user (" + System.getProperty("user.name")
                        + ") may not bind it: a port below 1024 needs root or CAP_NET_BIND_SERVICE");
            } else {
                warnings.add(option + " " + addr(a) + ": cannot be bound: " + m);
            }
        } catch (IOException e) {
            warnings.add(option + " " + addr(a) + ": cannot be bound: " + e.getMessage());
        }
    }

    /** Who holds a port: the daemon of this pidfile when one runs, or another program. */
    private static String holder(Config config, InetSocketAddress a) {
        if (config.pidFile() == null) {
            return "by another program, or a daemon run with --no-pidfile (ss -ltnp 'sport = :" + a.getPort() + "' names it)";
        }
        try {
            PidFile.checkFree(config.pidFile());
        } catch (PidFile.AlreadyRunningException e) {
            return "most likely by the " + (config.program() == org.rpctlsservd.cli.Opt.Side.CLIENT ? "rpc.tlsclntd" : "rpc.tlsservd")
                    + " running with this pidfile (pid " + e.pid() + ", " + config.pidFile() + ")";
        }
        return "by another program (ss -ltnp 'sport = :" + a.getPort() + "' names it)";
    }

    /** An address a socket can be bound to here: the wildcard, or one of this host's. */
    private static void ownAddress(String option, InetSocketAddress a) throws Refused {
        InetAddress ip = a.getAddress();
        try {
            if (ip.isAnyLocalAddress() || ip.isLoopbackAddress() || NetworkInterface.getByInetAddress(ip) != null) {
                return;
            }
        } catch (IOException e) {
            throw new Refused(option + " " + org.rpctlsservd.guard.LogText.ip(ip) + ": cannot list this host's addresses: " + e.getMessage());
        }
        throw new Refused(option + " " + addr(a) + ": not an address of this host");
    }

    private static String addr(InetSocketAddress a) {
        return org.rpctlsservd.guard.LogText.address(a);
    }
}
