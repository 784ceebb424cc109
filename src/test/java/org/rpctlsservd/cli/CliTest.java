package org.rpctlsservd.cli;

import org.rpctlsservd.frontend.SourcePortRange;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The rpc.tlsservd command line: options, defaults, checks in the C daemon's order, exact messages. */
class CliTest {
    private static final String USAGE = "usage: rpc.tlsservd [-2/--allowtls1_2] [-C/--ciphers available_ciphers]"
            + " [-D/--certdir certdir] [-d/--debuglevel] [-h/--checkhost] [-l/--verifylocs CAfile] [-m/--mutualverf]"
            + " [-N/--maxthreads num] [-n/--domain domain_name] [-p/--verifydir CApath] [-r/--crl CRLfile]"
            + " [-u/--certuser] [-v/--verbose] [-W/--multiwild] [-w/--singlewild]";

    private final Cli twoCpus = new Cli("rpc.tlsservd", 2, "nfs1.example.com", h -> null);

    private Config parse(String... args) throws UsageException {
        return twoCpus.parse(args);
    }

    private String refused(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void defaults() throws Exception {
        Config c = parse();
        assertFalse(c.allowTls12());
        assertNull(c.ciphers());
        assertEquals("/etc/rpc.tlsservd/", c.certDir());
        assertEquals(0, c.debugLevel());
        assertFalse(c.foreground());
        assertEquals(1, c.maxThreads(), "2 CPUs: cap 2 / 2 = 1");
        assertEquals("@example.com", c.domain());
        assertEquals(Config.NO_WILDCARDS, c.wildcardFlags());
        assertEquals(Path.of("/var/run/rpc.tlsservd.pid"), c.pidFile());
        assertEquals("127.0.0.1", c.rpcAddress().getAddress().getHostAddress());
        assertEquals(0, c.rpcAddress().getPort());
        assertTrue(c.rpcbind());
        assertEquals(Duration.ofMinutes(10), c.rpcIdleTimeout());
    }

    @Test
    void defaultCapIsHalfTheCpusAtLeastOne() throws Exception {
        assertEquals(1, Opt.defaultMaxThreads(1));
        assertEquals(4, Opt.defaultMaxThreads(9));
        assertEquals(1, new Cli("rpc.tlsservd", 1, "h", h -> null).parse(new String[0]).maxThreads());
        assertEquals(4, new Cli("rpc.tlsservd", 8, "h", h -> null).parse(new String[0]).maxThreads());
        assertEquals(3, new Cli("rpc.tlsservd", 7, "h", h -> null).parse(new String[0]).maxThreads());
    }

    @Test
    void everyOptionShortAndLong() throws Exception {
        Config s = parse("-2", "-C", "TLS_AES_128_GCM_SHA256", "-D", "/x/", "-d", "-d", "-h", "-l", "ca.pem", "-m",
                "-N", "2", "-n", "Example.COM", "-p", "/capath", "-r", "crl.pem", "-u", "-v", "-W");
        Config l = parse("--allowtls1_2", "--ciphers=TLS_AES_128_GCM_SHA256", "--certdir", "/x/", "--debuglevel",
                "--debuglevel", "--checkhost", "--verifylocs", "ca.pem", "--mutualverf", "--maxthreads", "2",
                "--domain", "Example.COM", "--verifydir", "/capath", "--crl", "crl.pem", "--certuser", "--verbose",
                "--multiwild");
        for (Config c : new Config[] {s, l}) {
            assertTrue(c.allowTls12());
            assertEquals("TLS_AES_128_GCM_SHA256", c.ciphers());
            assertEquals("/x/", c.certDir());
            assertEquals(2, c.debugLevel());
            assertTrue(c.checkHost());
            assertEquals("ca.pem", c.caFile());
            assertTrue(c.mutualVerify());
            assertEquals(2, c.maxThreads());
            assertEquals("@Example.COM", c.domain());
            assertEquals("/capath", c.caPath());
            assertEquals("crl.pem", c.crlFile());
            assertTrue(c.certUser());
            assertTrue(c.verbose());
            assertEquals(Config.MULTI_LABEL_WILDCARDS, c.wildcardFlags());
        }
        assertEquals(0, parse("-h", "-m", "-l", "ca", "-w").wildcardFlags());
        assertEquals(3, parse("-ddd").debugLevel(), "clustered short flags");
        assertEquals(2, parse("-N2").maxThreads(), "attached argument");
    }

    @Test
    void longOnlyOptions() throws Exception {
        Config c = parse("--pidfile", "/tmp/x.pid", "--rpc-address", "127.0.0.2:7000", "--rpc-max-connections", "5",
                "--rpc-idle-timeout", "30", "--connect-queue", "9", "--no-rpcbind");
        assertEquals(Path.of("/tmp/x.pid"), c.pidFile());
        assertEquals("127.0.0.2", c.rpcAddress().getAddress().getHostAddress());
        assertEquals(7000, c.rpcAddress().getPort());
        assertEquals(5, c.maxConnections());
        assertEquals(Duration.ofSeconds(30), c.rpcIdleTimeout());
        assertEquals(9, c.connectQueue());
        assertFalse(c.rpcbind());
        assertEquals("::1", parse("--rpc-address", "[::1]:0").rpcAddress().getAddress().getHostAddress().replace("0:0:0:0:0:0:0:1", "::1"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "3", "-1", "abc", "", "99999999999"})
    void maxThreadsOutOfRange(String n) {
        assertEquals("rpc.tlsservd: maximum threads must be between 1 and number of CPUs (2)", refused("-N", n));
    }

    @Test
    void maxThreadsTakesLeadingDigitsAsAtoiDoes() throws Exception {
        assertEquals(2, parse("-N", "2x").maxThreads());
        assertEquals(1, parse("--maxthreads", " 1").maxThreads());
    }

    @Test
    void crossOptionChecksInTheCDaemonsOrder() {
        assertEquals("rpc.tlsservd: -m requires the -l <CAfile> and/or -p <CApath> options", refused("-m"));
        assertEquals("rpc.tlsservd: -h requires the -m plus the -l <CAfile> and/or -p <CApath> options", refused("-h"));
        assertEquals("rpc.tlsservd: -h requires the -m plus the -l <CAfile> and/or -p <CApath> options", refused("-h", "-l", "ca"));
        assertEquals("rpc.tlsservd: The -w or -W options require the -h option", refused("-w"));
        assertEquals("rpc.tlsservd: The -w or -W options require the -h option", refused("-W", "-m", "-l", "ca"));
        assertEquals("rpc.tlsservd: -u requires the -m plus the -l <CAfile> and/or -p <CApath> options", refused("-u"));
        assertEquals("rpc.tlsservd: -u requires the -m plus the -l <CAfile> and/or -p <CApath> options", refused("-u", "-p", "/d"));
        // -m is checked before -h and -u
        assertEquals("rpc.tlsservd: -m requires the -l <CAfile> and/or -p <CApath> options", refused("-u", "-h", "-m"));
    }

    @ParameterizedTest
    @CsvSource({"-w,-W", "-W,-w", "-w,-w", "-W,-W"})
    void wildcardOptionsAreMutuallyExclusive(String a, String b) {
        assertEquals("rpc.tlsservd: options -w and -W are mutually exclusive", refused("-h", "-m", "-l", "ca", a, b));
    }

    @Test
    void accepted() throws Exception {
        parse("-h", "-m", "-l", "ca.pem");
        parse("-m", "-p", "/capath", "-u");
        parse("-N", "1");
        parse("-r", "crl.pem");
        parse("-l", "ca.pem");
    }

    @Test
    void unknownOptionsPrintTheUsageLine() {
        assertEquals("rpc.tlsservd: illegal option -- x\n" + USAGE, refused("-x"));
        assertEquals("rpc.tlsservd: unrecognized option `--bogus'\n" + USAGE, refused("--bogus"));
        assertEquals("rpc.tlsservd: option requires an argument -- N\n" + USAGE, refused("-N"));
        assertEquals("rpc.tlsservd: unexpected argument `extra'\n" + USAGE, refused("extra"));
    }

    @Test
    void badLongOnlyValues() {
        assertEquals("rpc.tlsservd: --connect-queue must be a whole number from 1 to 1000000, not `0'", refused("--connect-queue", "0"));
        assertEquals("rpc.tlsservd: --rpc-address takes ADDR:PORT, not `localhost'", refused("--rpc-address", "localhost"));
        assertEquals("rpc.tlsservd: --rpc-address: bad port in `127.0.0.1:70000'", refused("--rpc-address", "127.0.0.1:70000"));
    }

    @Test
    void frontEndOptions() throws Exception {
        Config c = parse("--listen", "127.0.0.1:2049", "--listen", "[::1]:2049", "--backend", "127.0.0.1:20490",
                "--require", "certuser", "--idle-timeout", "60", "--upcall-timeout", "5", "--handshake-timeout", "4");
        assertEquals(2, c.listen().size());
        assertEquals(2049, c.listen().get(1).getPort());
        assertTrue(c.listen().get(1).getAddress() instanceof java.net.Inet6Address);
        assertEquals(20490, c.backend().getPort());
        assertEquals(Require.CERTUSER, c.require());
        assertEquals(Duration.ofSeconds(60), c.idleTimeout());
        assertEquals(Duration.ofSeconds(5), c.upcallTimeout());
        Config d = parse();
        assertTrue(d.listen().isEmpty());
        assertEquals(Require.NONE, d.require());
        assertEquals(Duration.ofMinutes(6), d.idleTimeout());
        assertEquals(Duration.ofSeconds(15), d.upcallTimeout());
        assertEquals(Duration.ofSeconds(10), d.handshakeTimeout());
        assertEquals("rpc.tlsservd: --listen requires --backend <host:port>", refused("--listen", "127.0.0.1:2049"));
        assertEquals("rpc.tlsservd: --backend needs --listen <addr:port> (a --relay names its own backend)", refused("--backend", "127.0.0.1:1"));
        assertEquals("rpc.tlsservd: --require, --accept-proxy-from, --backend-proxy, --backend-source-ports and --backend-source need"
                + " --listen <addr:port> or --relay", refused("--require", "tls"));
        assertEquals("rpc.tlsservd: --require takes none, tls, cert or certuser, not `all'",
                refused("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--require", "all"));
        assertEquals("rpc.tlsservd: --handshake-timeout takes seconds from 0.001 to 86400, not `soon'",
                refused("--handshake-timeout", "soon"));
        assertEquals(2, d.ioThreads(), "one event loop per CPU (2 here)");
        assertEquals(5, parse("--io-threads", "5").ioThreads());
        assertEquals("rpc.tlsservd: --io-threads must be a whole number from 1 to 256, not `0'", refused("--io-threads", "0"));
    }

    @Test
    void relaysNameTheirBackendsAndPrograms() throws Exception {
        Config c = parse("--relay", "0.0.0.0:2049,127.0.0.1:12049,nfs", "--relay", "[::]:20048, 127.0.0.1:20048, mount/3, 400100/1+2",
                "--require", "cert");
        assertEquals(2, c.relays().size());
        Relay nfs = c.relays().get(0);
        assertEquals(2049, nfs.listen().getPort());
        assertEquals(12049, nfs.backend().getPort());
        assertEquals(List.of(new Relay.Program(100003, "nfs", List.of(3, 4))), nfs.programs(), "nfs: versions 3 and 4 unless told");
        Relay mount = c.relays().get(1);
        assertEquals(List.of(new Relay.Program(100005, "mountd", List.of(3)), new Relay.Program(400100, null, List.of(1, 2))),
                mount.programs());
        assertEquals(2, c.allRelays().size(), "no --listen: the relays only");
        Config both = parse("--listen", "127.0.0.1:3049", "--backend", "127.0.0.1:2049", "--relay", "127.0.0.1:4049,127.0.0.1:20048");
        assertEquals(List.of(3049, 4049), both.allRelays().stream().map(r -> r.listen().getPort()).toList(), "--listen first");
        assertEquals("rpc.tlsservd: --relay takes LISTEN,BACKEND[,PROGRAM...] (for example 0.0.0.0:2049,127.0.0.1:12049,nfs), not"
                + " `127.0.0.1:2049'", refused("--relay", "127.0.0.1:2049"));
        assertEquals("rpc.tlsservd: --relay: unknown program `nsf' (nfs, mountd, nlockmgr, status, rquotad, nfs_acl, or a number with"
                + " its versions: 400000/1)", refused("--relay", "127.0.0.1:1,127.0.0.1:2,nsf"));
        assertEquals("rpc.tlsservd: --relay: program 400100 needs its versions: 400100/1 or 400100/1+2",
                refused("--relay", "127.0.0.1:1,127.0.0.1:2,400100"));
        assertEquals("rpc.tlsservd: --relay: bad versions in `nfs/3+3' (versions are numbers joined by +: nfs/3+4)",
                refused("--relay", "127.0.0.1:1,127.0.0.1:2,nfs/3+3"));
        assertEquals("rpc.tlsservd: --relay: 127.0.0.1:2049 is listened on twice",
                refused("--relay", "127.0.0.1:2049,127.0.0.1:2", "--relay", "127.0.0.1:2049,127.0.0.1:3"));
        assertEquals("rpc.tlsservd: --relay (backend): bad port in `127.0.0.1:x'", refused("--relay", "127.0.0.1:1,127.0.0.1:x"));
    }

    @Test
    void backendSourcePorts() throws Exception {
        Config d = parse("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2");
        assertEquals(SourcePortRange.RESERVED, d.backendSourcePorts());
        assertEquals(359, d.backendSourcePorts().count(), "665-1023, as the Linux NFS client");
        assertTrue(parse("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--backend-source-ports", "any").backendSourcePorts().any());
        Config r = parse("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--backend-source-ports", "600-700", "--backend-source",
                "127.0.0.2", "--backend-source", "[::1]");
        assertEquals(new SourcePortRange(600, 700, true), r.backendSourcePorts());
        assertEquals(2, r.backendSources().size());
        assertEquals("rpc.tlsservd: --backend-source-ports takes reserved, any or LOW-HIGH (1 to 65535), not `700-600'",
                refused("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--backend-source-ports", "700-600"));
        assertEquals("rpc.tlsservd: --backend-source takes an IP address, not `localhost'",
                refused("--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--backend-source", "localhost"));
    }

    @Test
    void domainIsTruncatedAt256Characters() throws Exception {
        String longName = "a".repeat(300);
        assertEquals("@" + "a".repeat(256), parse("-n", longName).domain());
    }

    @Test
    void defaultDomainFollowsTheHostName() {
        assertEquals("@b.example.org", Cli.defaultDomain("a.b.example.org", h -> null));
        assertEquals("@example.net", Cli.defaultDomain("nfs", h -> "nfs.example.net"));
        assertEquals("@default.domain", Cli.defaultDomain("nfs", h -> null));
        assertEquals("@default.domain", Cli.defaultDomain("nfs.", h -> "nfs"));
    }

    @Test
    void helpListsEveryOption() {
        String help = twoCpus.help();
        assertTrue(help.startsWith(USAGE));
        for (String o : new String[] {"--allowtls1_2", "--ciphers", "--certdir", "--debuglevel", "--checkhost",
                "--verifylocs", "--mutualverf", "--maxthreads", "--domain", "--verifydir", "--crl", "--certuser",
                "--verbose", "--multiwild", "--singlewild", "--pidfile", "--rpc-address", "--no-rpcbind", "--help"}) {
            assertTrue(help.contains(o), o);
        }
        assertTrue(Cli.wantsHelp(new String[] {"-d", "--help"}));
        assertFalse(Cli.wantsHelp(new String[] {"-d"}));
    }

    // ---- --config FILE ----

    @org.junit.jupiter.api.io.TempDir
    Path confDir;

    private Path conf(String text) throws java.io.IOException {
        Path f = confDir.resolve("rpc-tlsservd.conf");
        java.nio.file.Files.writeString(f, text);
        return f;
    }

    @Test
    void configFileValuesFlagsAndComments() throws Exception {
        Path f = conf("# the daemon\n\n  allowtls1_2\nmaxthreads = 2\nciphers=TLS_AES_128_GCM_SHA256\n"
                + "listen = 127.0.0.1:2049\nlisten = 127.0.0.1:2050\nbackend = 127.0.0.1:111\nrequire = tls\n");
        Config c = parse("--config", f.toString());
        assertTrue(c.allowTls12());
        assertEquals(2, c.maxThreads());
        assertEquals("TLS_AES_128_GCM_SHA256", c.ciphers());
        assertEquals(2, c.listen().size(), "listen is repeatable in the file");
        assertEquals(Require.TLS, c.require());
    }

    @Test
    void theCommandLineOverridesTheFile() throws Exception {
        Path f = conf("maxthreads = 0\nlisten = 127.0.0.1:2049\nlisten = 127.0.0.1:2050\nbackend = 127.0.0.1:111\n");
        Config c = parse("--config", f.toString(), "-N", "1", "--listen", "127.0.0.1:3049");
        assertEquals(1, c.maxThreads(), "the file's invalid value is replaced, never checked");
        assertEquals(1, c.listen().size(), "the command line's --listen replaces all of the file's");
        assertEquals(3049, c.listen().get(0).getPort());
    }

    @Test
    void configFileErrorsNameTheFileTheLineAndTheName() throws Exception {
        Path f = conf("allowtls1_2\nnosuch = 1\n");
        assertEquals("rpc.tlsservd: " + f + ":2: unknown option `nosuch'", refused("--config", f.toString()));
        f = conf("\nverbose = yes\n");
        assertEquals("rpc.tlsservd: " + f + ":2: option `verbose' takes no value; write the bare name to set it",
                refused("--config", f.toString()));
        f = conf("certdir\n");
        assertEquals("rpc.tlsservd: " + f + ":1: option `certdir' needs a value: certdir = certdir", refused("--config", f.toString()));
        f = conf("= 3\n");
        assertEquals("rpc.tlsservd: " + f + ":1: malformed line, expected \"name = value\" or \"name\": `= 3'",
                refused("--config", f.toString()));
        f = conf("N = 2\n");
        assertEquals("rpc.tlsservd: " + f + ":1: unknown option `N'", refused("--config", f.toString()), "long names only");
        f = conf("config = /etc/other.conf\n");
        assertEquals("rpc.tlsservd: " + f + ":1: unknown option `config'", refused("--config", f.toString()));
        f = conf("maxthreads = 5\n");
        assertEquals(refused("-N", "5"), refused("--config", f.toString()), "a value gets the command line's message");
    }

    @Test
    void aReloadNamesTheOptionsThatNeedARestart() throws Exception {
        assertEquals(java.util.Set.of("allow-subject", "allow-san", "require-eku", "log-level", "verbose"),
                Opt.all().stream().filter(Opt::reloads).map(Opt::longName).collect(java.util.stream.Collectors.toSet()),
                "what SIGHUP applies, as the man pages say");
        Config before = parse("-m", "-l", "/ca.pem", "--allow-subject", "CN=alice", "--require-eku");
        assertEquals(java.util.List.of(), before.restartOnlyChanges(parse("-m", "-l", "/ca.pem", "--allow-san", "*.example.org")),
                "the allow-lists are what a reload applies");
        assertEquals(java.util.List.of("verifylocs", "singlewild", "listen", "backend"),
                before.restartOnlyChanges(parse("-m", "-l", "/other.pem", "-h", "-w", "--allow-subject", "CN=alice",
                        "--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111")).stream().filter(o -> !o.equals("checkhost")).toList());
        assertEquals(java.util.List.of("allow-subject/allow-san list", "require-eku"), before.droppedRestrictions(parse("-m", "-l", "/ca.pem")));
        assertEquals(java.util.List.of(), before.droppedRestrictions(parse("-m", "-l", "/ca.pem", "--allow-san", "*", "--require-eku")),
                "a changed list is not a dropped one");
    }

    @Test
    void aConfigFileCaughtWhileBeingWrittenIsRefused() throws Exception {
        Path f = conf("");
        assertEquals("rpc.tlsservd: " + f + ": config file is empty (caught while being written?);"
                + " a file with no options holds at least a comment line", refused("--config", f.toString()));
        f = conf("mutualverf\nverifylocs = /etc/ca.pem\nallow-subject = CN=al");
        assertEquals("rpc.tlsservd: " + f + ": config file does not end in a newline (caught while being written?);"
                + " replace it by renaming a complete file", refused("--config", f.toString()), "a cut inside a value");
        f = conf("# nothing set\n");
        assertEquals(parse(), parse("--config", f.toString()),
                "a comment line alone is a file with no options");
    }

    @Test
    void versionAndCheckAreActions() throws Exception {
        assertTrue(Cli.wantsVersion(new String[] {"-d", "--version"}));
        assertFalse(Cli.wantsVersion(new String[] {"--", "--version"}));
        assertTrue(parse("--check").checkOnly());
        assertEquals("127.0.0.1", parse("--metrics", "127.0.0.1:9464").metrics().getAddress().getHostAddress());
        assertNull(parse().metrics(), "metrics are off by default");
    }

    @Test
    void theProxyHeaderHasADeadlineOfItsOwn() throws Exception {
        String[] proxied = {"--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111", "--accept-proxy-from", "10.0.0.0/8"};
        assertEquals(Duration.ofSeconds(10), parse(proxied).proxyHeaderTimeout(), "the handshake timeout's default");
        assertEquals(Duration.ofSeconds(3), parse(concat(proxied, "--handshake-timeout", "3")).proxyHeaderTimeout(),
                "not given, it follows --handshake-timeout");
        Config c = parse(concat(proxied, "--proxy-header-timeout", "0.5", "--handshake-timeout", "3"));
        assertEquals(Duration.ofMillis(500), c.proxyHeaderTimeout());
        assertEquals(Duration.ofSeconds(3), c.handshakeTimeout(), "two options, two values");
        assertEquals("rpc.tlsservd: --proxy-header-timeout takes seconds from 0.001 to 86400, not `0'",
                refused(concat(proxied, "--proxy-header-timeout", "0")));
    }

    @Test
    void withAFrontEndTheHandshakeTimeoutIsBelowTheUpcallTimeout() throws Exception {
        String[] fe = {"--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111"};
        assertEquals("rpc.tlsservd: --handshake-timeout (15) must be below --upcall-timeout (15): the front end would give up"
                + " a CONNECT upcall while its handshake may still succeed", refused(concat(fe, "--handshake-timeout", "15")));
        assertEquals("rpc.tlsservd: --handshake-timeout (10) must be below --upcall-timeout (2.5): the front end would give up"
                + " a CONNECT upcall while its handshake may still succeed", refused(concat(fe, "--upcall-timeout", "2.5")));
        assertEquals("rpc.tlsservd: --handshake-timeout (60) must be below --upcall-timeout (15): the front end would give up"
                + " a CONNECT upcall while its handshake may still succeed",
                refused("--relay", "127.0.0.1:2049,127.0.0.1:111", "--handshake-timeout", "60"), "a --relay is a front end too");
        assertEquals(Duration.ofSeconds(60), parse("--handshake-timeout", "60").handshakeTimeout(),
                "without a front end the caller is the kernel, whose timeout is not an option here");
        parse(concat(fe, "--handshake-timeout", "60", "--upcall-timeout", "90"));
    }

    @Test
    void changingOneOptionNamesOneOption() throws Exception {
        Config c = parse();
        Config shorter = c.with(Opt.IDLE_TIMEOUT, Duration.ofSeconds(1));
        assertEquals(Duration.ofSeconds(1), shorter.idleTimeout());
        assertEquals(List.of("idle-timeout"), c.restartOnlyChanges(shorter), "and nothing else changed");
        assertEquals(Duration.ofMinutes(6), c.idleTimeout(), "the original stays as it was");
    }

    @Test
    void theUsageLineAndTheConfigFileComeFromTheDeclarations() {
        for (Opt<?> o : Opt.all()) {
            assertEquals(o.shortName() != null, twoCpus.usage().contains("[" + o + (o.takesArgument() ? " " + o.argName() : "") + "]"),
                    o.toString());
            assertEquals(o.inFile(), Cli.configNames().contains(o.longName()), o.toString());
        }
        assertEquals(java.util.Set.of("check", "config", "help", "version"),
                Opt.all().stream().filter(o -> !o.inFile()).map(Opt::longName).collect(java.util.stream.Collectors.toSet()));
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void proxyProtocolOptions() throws Exception {
        Config c = parse("--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111", "--accept-proxy-from", "10.0.0.0/8",
                "--accept-proxy-from", "192.0.2.1", "--backend-proxy", "v2");
        assertEquals(2, c.acceptProxyFrom().size());
        assertEquals(2, c.backendProxy());
        assertEquals("rpc.tlsservd: --backend-proxy takes v1 or v2, not `v3'",
                refused("--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111", "--backend-proxy", "v3"));
        assertEquals("rpc.tlsservd: --accept-proxy-from: bad prefix length in `10.0.0.0/40'",
                refused("--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111", "--accept-proxy-from", "10.0.0.0/40"));
        assertEquals("rpc.tlsservd: --accept-proxy-from: not an address: `lb.example.org'",
                refused("--listen", "127.0.0.1:2049", "--backend", "127.0.0.1:111", "--accept-proxy-from", "lb.example.org"));
    }
}
