package org.rpctlsservd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.frontend.Connect;
import org.rpctlsservd.frontend.SourcePortRange;

/** The rpc.tlsclntd command line: FreeBSD's options and message, the shared process options, the connector's. */
class ClientCliTest {
    private static final String USAGE = "usage: rpc.tlsclntd [-2/--usetls1_2] [-C/--ciphers available_ciphers]"
            + " [-D/--certdir certdir] [-d/--debuglevel] [-l/--verifylocs CAfile] [-m/--mutualverf]"
            + " [-N/--maxthreads num] [-p/--verifydir CApath] [-r/--crl CRLfile] [-v/--verbose]";

    private final Cli cli = new Cli(Opt.Side.CLIENT, "rpc.tlsclntd", 2, "nfs1.example.com", h -> null);

    private Config parse(String... args) throws UsageException {
        return cli.parse(args);
    }

    private String refused(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void usageIsFreeBsdsWithMaxThreads() {
        assertEquals(USAGE, cli.usage());
    }

    @Test
    void defaults() throws Exception {
        Config c = parse();
        assertEquals(Opt.Side.CLIENT, c.program());
        assertFalse(c.useTls12());
        assertEquals("/etc/rpc.tlsclntd/", c.certDir());
        assertEquals(Path.of("/var/run/rpc.tlsclntd.pid"), c.pidFile());
        assertEquals(Path.of("/var/run/rpc.tlsclntd.sock"), c.rpcSocket());
        assertNull(c.caFile());
        assertFalse(c.mutualVerify());
        assertTrue(c.connects().isEmpty());
        assertFalse(c.allowPlain());
        assertEquals(SourcePortRange.RESERVED, c.serverSourcePorts());
        assertTrue(c.rpcbind());
        assertEquals(1, c.maxThreads());
        // what the client has no option for reads as the server's default
        assertTrue(c.listen().isEmpty());
        assertFalse(c.rpcInsecure());
    }

    @Test
    void freeBsdLongNames() throws Exception {
        Config c = parse("--usetls1_2", "--ciphers", "TLS_AES_128_GCM_SHA256", "--certdir", "/etc/x/", "--debuglevel", "--verifylocs",
                "/ca.pem", "--mutualverf", "--verifydir", "/cadir", "--crl", "/crl.pem", "--verbose");
        assertTrue(c.useTls12());
        assertEquals("TLS_AES_128_GCM_SHA256", c.ciphers());
        assertEquals("/etc/x/", c.certDir());
        assertEquals(1, c.debugLevel());
        assertEquals("/ca.pem", c.caFile());
        assertTrue(c.mutualVerify());
        assertEquals("/cadir", c.caPath());
        assertEquals("/crl.pem", c.crlFile());
        assertTrue(c.verbose());
    }

    @Test
    void dashTwoIsUseNotAllow() throws Exception {
        Config c = parse("-2");
        assertTrue(c.useTls12());
        assertFalse(c.allowTls12(), "the server's --allowtls1_2 is not the client's -2");
        assertTrue(refused("--allowtls1_2").startsWith("rpc.tlsclntd: unrecognized option `--allowtls1_2'\n" + USAGE));
    }

    @Test
    void serverOnlyOptionsAreRefused() {
        assertEquals("rpc.tlsclntd: illegal option -- h\n" + USAGE, refused("-h"));
        assertEquals("rpc.tlsclntd: illegal option -- u\n" + USAGE, refused("-u"));
        assertEquals("rpc.tlsclntd: unrecognized option `--listen'\n" + USAGE, refused("--listen", "0.0.0.0:2049"));
    }

    @Test
    void crlWithoutCaIsFreeBsdsError() throws Exception {
        assertEquals("rpc.tlsclntd: -r requires the -l <CAfile> and/or -p <CApath> options", refused("-r", "/crl.pem"));
        assertEquals("/crl.pem", parse("-r", "/crl.pem", "-l", "/ca.pem").crlFile());
        assertEquals("/crl.pem", parse("-r", "/crl.pem", "-p", "/cadir").crlFile());
    }

    @Test
    void mutualWithoutCaIsAllowed() throws Exception {
        // the client presents a certificate; verifying the server's is what -l/-p ask for, separately
        assertTrue(parse("-m").mutualVerify());
    }

    @Test
    void connect() throws Exception {
        Config c = parse("--connect", "127.0.0.1:2049,nfs.example.org:2049", "--connect", "3049,[::1]:20049,certname=mount1");
        assertEquals(List.of(new Connect(new InetSocketAddress("127.0.0.1", 2049), "nfs.example.org", 2049, ""),
                new Connect(new InetSocketAddress("127.0.0.1", 3049), "::1", 20049, "mount1")), c.connects());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "2049|--connect takes LISTEN,SERVER[,certname=NAME] (for example 127.0.0.1:2049,nfs.example.org:2049), not `2049'",
        "2049,nfs.example.org|--connect: the server is HOST:PORT (a name, an IPv4 address or [IPv6], a port from 1 to 65535), not `nfs.example.org'",
        "2049,::1:2049|--connect: the server is HOST:PORT (a name, an IPv4 address or [IPv6], a port from 1 to 65535), not `::1:2049'",
        "2049,h:0|--connect: the server is HOST:PORT (a name, an IPv4 address or [IPv6], a port from 1 to 65535), not `h:0'",
        "2049,h:1,cert=x|--connect: the third part is certname=NAME, not `cert=x'",
        "2049,h:1,certname=../x|--connect: certname ../x may not contain / nor start with a dot",
        "x:2049,h:1|--connect (listen): unknown address `x'",
    })
    void connectRefusals(String arg, String message) {
        assertEquals("rpc.tlsclntd: " + message, refused("--connect", arg));
    }

    @Test
    void connectorOptionsNeedConnect() throws Exception {
        String m = "rpc.tlsclntd: --allow-plain, --server-source-ports and --server-source need --connect <listen,server>";
        assertEquals(m, refused("--allow-plain"));
        assertEquals(m, refused("--server-source-ports", "any"));
        assertEquals(m, refused("--server-source", "127.0.0.1"));
        Config c = parse("--connect", "2049,h:2049", "--allow-plain", "--server-source-ports", "any", "--server-source", "127.0.0.1");
        assertTrue(c.allowPlain());
        assertEquals(SourcePortRange.ANY, c.serverSourcePorts());
        assertEquals("rpc.tlsclntd: --server-source-ports takes reserved, any or LOW-HIGH (1 to 65535), not `low'",
                refused("--connect", "2049,h:2049", "--server-source-ports", "low"));
    }

    @Test
    void connectListenedOnTwice() {
        assertEquals("rpc.tlsclntd: --connect: 127.0.0.1:2049 is listened on twice",
                refused("--connect", "2049,a:2049", "--connect", "127.0.0.1:2049,b:2049"));
    }

    @Test
    void handshakeBelowUpcallWithConnect() throws Exception {
        assertEquals("rpc.tlsclntd: --handshake-timeout (20) must be below --upcall-timeout (15): the connector would give up a"
                + " CONNECT upcall while its handshake may still succeed",
                refused("--connect", "2049,h:2049", "--handshake-timeout", "20"));
        assertEquals(Duration.ofSeconds(20), parse("--handshake-timeout", "20").handshakeTimeout(), "no connector, no upcall to outrun");
    }

    @Test
    void helpNamesTheConnectorAndTheClientsDefaults() {
        String help = cli.help().replaceAll("\\s+", " "); // unwrapped
        assertTrue(help.startsWith(USAGE + " "), help);
        assertTrue(help.contains("connector: close a client connection idle this long (default 360)"), help);
        assertTrue(help.contains("(default /etc/rpc.tlsclntd/)"), help);
        assertTrue(help.contains("Unix-domain socket of the RPCTLSCD service"), help);
        assertFalse(help.contains("front end"), help);
        assertFalse(help.contains("--listen"), help);
    }

    @Test
    void serverListUnchanged() {
        assertTrue(Opt.all().stream().noneMatch(o -> o.side() == Opt.Side.CLIENT));
        assertFalse(Cli.longNames().contains("connect"));
        assertFalse(Cli.longNames().contains("usetls1_2"));
        assertTrue(Cli.longNames(Opt.Side.CLIENT).containsAll(List.of("connect", "usetls1_2", "allow-plain", "server-source-ports",
                "server-source", "pidfile", "rpc-socket", "metrics", "config", "no-rpcbind")));
    }

    @Test
    void configFileTakesTheClientsNames(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("rpc.tlsclntd.conf");
        Files.writeString(f, "# client\nusetls1_2\nconnect = 2049,nfs.example.org:2049\nverifylocs = /ca.pem\n");
        Config c = parse("--config", f.toString());
        assertTrue(c.useTls12());
        assertEquals("nfs.example.org", c.connects().get(0).serverHost());
        Files.writeString(f, "listen = 0.0.0.0:2049\n");
        assertEquals("rpc.tlsclntd: " + f + ":1: unknown option `listen'", refused("--config", f.toString()));
    }
}
