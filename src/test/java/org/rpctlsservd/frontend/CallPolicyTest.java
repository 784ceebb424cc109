package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctlsservd.handshake.HandshakeOutcome;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.XdrReader;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;

/** The front end's decisions on calls, from bytes to action, without sockets. */
class CallPolicyTest {
    private static final int TLS = 0x01;
    private static final int VERIFIED = 0x0B;
    private static final int DISABLED = 0x1B;
    private static final int CERTUSER = 0x2B;
    private static final int CERTUSER_DISABLED = 0x3B;

    // RFC 5531 auth_stat: AUTH_BADCRED 1, AUTH_REJECTEDCRED 2, AUTH_TOOWEAK 5
    private static String decide(byte[] call, boolean tls, int flags, boolean probeWelcome, Require require) {
        XdrReader r = new XdrReader(call, 0, call.length);
        CallHeader h = CallHeader.decode(r, f -> true);
        CallPolicy.Decision d = CallPolicy.decide(h, r.remaining() == 0, tls, flags, probeWelcome, require);
        return d.action() == CallPolicy.Action.REFUSE ? "REFUSE " + d.authStat() : d.action().name();
    }

    private static byte[] call(int proc, byte[] cred) {
        return RawRpc.call().xid(1).prog(100003).vers(3).proc(proc).credRaw(cred).bytes();
    }

    private static final byte[] SYS = FrontEndHarness.authSys(1000, 100, 5);
    private static final byte[] NONE = FrontEndHarness.authNone();
    private static final byte[] SHORT = RawRpc.opaqueAuth(2, new byte[8]);
    private static final byte[] GSS = RawRpc.opaqueAuth(6, new byte[20]);
    /** A client's reply to a backend callback (xid 5, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS). */
    private static final byte[] REPLY = java.nio.ByteBuffer.allocate(24).putInt(5).putInt(1).array();

    /** The action and the reason it gives, "RELAY" or "REFUSE 5 NO_TLS", say. */
    private static String decideWhy(byte[] rec, boolean tls, int flags, Require require) {
        XdrReader r = new XdrReader(rec, 0, rec.length);
        CallPolicy.Decision d = CallPolicy.decide(CallHeader.decode(r, f -> true), r.remaining() == 0, tls, flags, !tls, require);
        return d.action() + (d.action() == CallPolicy.Action.REFUSE ? " " + d.authStat() : "") + (d.why() == null ? "" : " " + d.why());
    }

    @Test
    void theProbeStartsTlsOnceOnPlainConnectionsAndIsRefusedElsewhere() {
        byte[] probe = FrontEndHarness.probe(9);
        assertEquals("START_TLS", decide(probe, false, 0, true, Require.NONE));
        assertEquals("REFUSE 1", decide(probe, false, 0, false, Require.NONE), "a second probe: AUTH_BADCRED");
        assertEquals("REFUSE 1", decide(probe, true, TLS, false, Require.NONE), "a probe inside TLS");
        byte[] withBody = RawRpc.call().xid(9).prog(100000).vers(2).proc(0).credRaw(RawRpc.opaqueAuth(7, new byte[4])).bytes();
        assertEquals("REFUSE 1", decide(withBody, false, 0, true, Require.NONE), "AUTH_TLS with a credential body");
        byte[] notNull = RawRpc.call().xid(9).prog(100000).vers(2).proc(1).credRaw(RawRpc.opaqueAuth(7, new byte[0])).bytes();
        assertEquals("REFUSE 1", decide(notNull, false, 0, true, Require.NONE), "AUTH_TLS on a procedure other than NULL");
        byte[] withArgs = RawRpc.call().xid(9).prog(100000).vers(2).proc(0).credRaw(RawRpc.opaqueAuth(7, new byte[0]))
                .args(new byte[4]).bytes();
        assertEquals("REFUSE 1", decide(withArgs, false, 0, true, Require.NONE), "a probe with arguments");
    }

    @Test
    void requireLevelsRefuseAllButNullWithTooWeak() {
        assertEquals("RELAY", decide(call(1, SYS), false, 0, true, Require.NONE));
        assertEquals("REFUSE 5", decide(call(1, SYS), false, 0, true, Require.TLS));
        assertEquals("RELAY", decide(call(0, SYS), false, 0, true, Require.CERTUSER), "NULL always passes");
        assertEquals("RELAY", decide(call(1, SYS), true, TLS, false, Require.TLS));
        assertEquals("REFUSE 5", decide(call(1, SYS), true, TLS, false, Require.CERT));
        assertEquals("RELAY", decide(call(1, NONE), true, VERIFIED, false, Require.CERT));
        assertEquals("REFUSE 5", decide(call(1, NONE), true, VERIFIED, false, Require.CERTUSER));
        assertEquals("RELAY_AS_CERTIFICATE_USER", decide(call(1, SYS), true, CERTUSER, false, Require.CERTUSER));
        assertEquals("RELAY", decide(call(1, NONE), true, CERTUSER, false, Require.CERTUSER), "AUTH_NONE is not rewritten");
    }

    @Test
    void disabledRejectsIdentityCredentialsAndCertUserIsIgnoredThen() {
        for (byte[] cred : new byte[][] {SYS, SHORT, GSS}) {
            assertEquals("REFUSE 2", decide(call(1, cred), true, DISABLED, false, Require.NONE), "AUTH_REJECTEDCRED");
            assertEquals("REFUSE 2", decide(call(1, cred), true, CERTUSER_DISABLED, false, Require.NONE));
        }
        assertEquals("RELAY", decide(call(1, NONE), true, DISABLED, false, Require.NONE));
        assertEquals("REFUSE 5", decide(call(1, NONE), true, CERTUSER_DISABLED, false, Require.CERTUSER),
                "DISABLED does not reach the certuser level");
        assertEquals("REFUSE 5", decide(call(1, NONE), true, DISABLED, false, Require.CERT),
                "a host check that failed is not a certificate that passed every check (issue 16, point 8)");
    }

    /**
     * Every flag result the handshake can give (reference section 4.3: 0x01, 0x03, 0x07, 0x0B, 0x1B,
     * 0x2B, 0x3B, and 0x10 added to the first three as the KTLS check would), and a plain connection
     * (flags 0), against each kind of call and each --require level; "-" for flags means plain. The
     * decision for none, tls, cert, certuser in that order: RELAY, CERTUSER (relayed as the certificate's
     * user), TOOWEAK (AUTH_ERROR AUTH_TOOWEAK) or REJECTED (AUTH_ERROR AUTH_REJECTEDCRED); for a REPLY
     * (the client's answer to a backend callback) RELAY or DROPPED: below the level nothing but a NULL
     * call reaches the backend, DISABLED or not.
     */
    @ParameterizedTest(name = "flags {0}, {1} {2}: {3} {4} {5} {6}")
    @CsvSource(delimiter = '|', textBlock = """
            # flags | proc | cred | none     | tls      | cert     | certuser
            -       | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            -       | NULL | SYS  | RELAY    | RELAY    | RELAY    | RELAY
            -       | CALL | NONE | RELAY    | TOOWEAK  | TOOWEAK  | TOOWEAK
            -       | CALL | SYS  | RELAY    | TOOWEAK  | TOOWEAK  | TOOWEAK
            -       | REPLY| -    | RELAY    | DROPPED  | DROPPED  | DROPPED
            0x01    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x01    | NULL | SYS  | RELAY    | RELAY    | RELAY    | RELAY
            0x01    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x01    | CALL | SYS  | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x01    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x03    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x03    | NULL | SYS  | RELAY    | RELAY    | RELAY    | RELAY
            0x03    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x03    | CALL | SYS  | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x03    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x07    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x07    | NULL | SYS  | RELAY    | RELAY    | RELAY    | RELAY
            0x07    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x07    | CALL | SYS  | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x07    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x0B    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x0B    | NULL | SYS  | RELAY    | RELAY    | RELAY    | RELAY
            0x0B    | CALL | NONE | RELAY    | RELAY    | RELAY    | TOOWEAK
            0x0B    | CALL | SYS  | RELAY    | RELAY    | RELAY    | TOOWEAK
            0x0B    | REPLY| -    | RELAY    | RELAY    | RELAY    | DROPPED
            0x1B    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x1B    | NULL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x1B    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x1B    | CALL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x1B    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x2B    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x2B    | NULL | SYS  | CERTUSER | CERTUSER | CERTUSER | CERTUSER
            0x2B    | CALL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x2B    | CALL | SYS  | CERTUSER | CERTUSER | CERTUSER | CERTUSER
            0x2B    | REPLY| -    | RELAY    | RELAY    | RELAY    | RELAY
            0x3B    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x3B    | NULL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x3B    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x3B    | CALL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x3B    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x11    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x11    | NULL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x11    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x11    | CALL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x11    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x13    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x13    | NULL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x13    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x13    | CALL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x13    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            0x17    | NULL | NONE | RELAY    | RELAY    | RELAY    | RELAY
            0x17    | NULL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x17    | CALL | NONE | RELAY    | RELAY    | TOOWEAK  | TOOWEAK
            0x17    | CALL | SYS  | REJECTED | REJECTED | REJECTED | REJECTED
            0x17    | REPLY| -    | RELAY    | RELAY    | DROPPED  | DROPPED
            """)
    void everyFlagResultAgainstEveryRequireLevel(String flags, String proc, String cred, String none, String tls, String cert,
            String certuser) {
        boolean plain = flags.equals("-");
        int f = plain ? 0 : Integer.decode(flags);
        byte[] c = proc.equals("REPLY") ? REPLY : call(proc.equals("NULL") ? 0 : 1, cred.equals("SYS") ? SYS : NONE);
        String[] want = {none, tls, cert, certuser};
        for (Require level : Require.values()) {
            String expected = switch (want[level.ordinal()]) {
                case "TOOWEAK" -> "REFUSE 5";
                case "REJECTED" -> "REFUSE 2";
                case "CERTUSER" -> "RELAY_AS_CERTIFICATE_USER";
                case "DROPPED" -> "DROP";
                default -> "RELAY";
            };
            assertEquals(expected, decide(c, !plain, f, false, level), "--require " + level + ", flags " + flags + ", " + proc + " " + cred);
        }
    }

    /**
     * Past the results the handshake gives, every one of the 64 combinations of the six flag bits: a
     * TLS connection reaches cert only when VERIFIED is set and DISABLED is not, and certuser only
     * with CERTUSER as well; whatever else is set (GOTCERT, SELFSIGNED, HANDSHAKE) changes nothing.
     */
    @Test
    void onlyAVerifiedConnectionThatNoCheckDisabledCountsAsCertOrCertUser() {
        assertEquals(4, Require.values().length, "a new --require level needs its row in the table above");
        for (int f = 0; f < 64; f++) {
            boolean passed = (f & HandshakeOutcome.FLAGS_VERIFIED) != 0 && (f & HandshakeOutcome.FLAGS_DISABLED) == 0;
            Require want = !passed ? Require.TLS : (f & HandshakeOutcome.FLAGS_CERTUSER) != 0 ? Require.CERTUSER : Require.CERT;
            assertEquals(want, CallPolicy.level(true, f), String.format("flags 0x%02X", f));
            assertEquals(Require.NONE, CallPolicy.level(false, f), "a plain connection is at none whatever the flags say");
            assertEquals(passed ? "RELAY" : "REFUSE 5", decide(call(1, NONE), true, f, false, Require.CERT), String.format("flags 0x%02X", f));
        }
    }

    @Test
    void repliesAndBrokenHeadersGoToTheBackendBadCredentialsAreAnsweredHere() {
        byte[] reply = java.nio.ByteBuffer.allocate(24).putInt(5).putInt(1).array();
        assertEquals("RELAY", decide(reply, true, TLS, false, Require.TLS), "a reply to a backend callback");
        assertEquals("DROP", decide(java.nio.ByteBuffer.allocate(8).putInt(5).putInt(7).array(), false, 0, true, Require.NONE));
        assertEquals("RELAY", decide(new byte[6], false, 0, true, Require.NONE), "truncated: the backend answers it");
        byte[] v3 = RawRpc.call().xid(1).rpcvers(3).bytes();
        assertEquals("RELAY", decide(v3, false, 0, true, Require.NONE), "RPC_MISMATCH is the backend's to answer");
        byte[] hugeCred = RawRpc.call().xid(1).credRaw(java.nio.ByteBuffer.allocate(8).putInt(1).putInt(401).array()).bytes();
        assertEquals("REFUSE 1", decide(hugeCred, false, 0, true, Require.NONE), "AUTH_BADCRED");
    }

    /**
     * Every refusal and every record dropped for --require says what the connection lacks, the first
     * thing as the flags tell it (the allow-list's refusal is told apart from the session's check, not here).
     */
    @Test
    void refusalsAndDroppedRecordsSayWhatTheConnectionLacks() {
        assertEquals("REFUSE 5 NO_TLS", decideWhy(call(1, SYS), false, 0, Require.TLS));
        assertEquals("REFUSE 5 NO_CERTIFICATE", decideWhy(call(1, NONE), true, TLS, Require.CERT));
        assertEquals("REFUSE 5 NO_CERTIFICATE", decideWhy(call(1, NONE), true, 0x11, Require.CERT), "no certificate comes before DISABLED");
        assertEquals("REFUSE 5 NOT_VERIFIED", decideWhy(call(1, NONE), true, 0x03, Require.CERT));
        assertEquals("REFUSE 5 NOT_VERIFIED", decideWhy(call(1, NONE), true, 0x07, Require.CERTUSER), "self-signed");
        assertEquals("REFUSE 5 DISABLED", decideWhy(call(1, NONE), true, DISABLED, Require.CERT));
        assertEquals("REFUSE 2 DISABLED", decideWhy(call(1, SYS), true, DISABLED, Require.NONE));
        assertEquals("REFUSE 5 NO_USER", decideWhy(call(1, NONE), true, VERIFIED, Require.CERTUSER));
        assertEquals("REFUSE 1 BAD_CREDENTIAL", decideWhy(FrontEndHarness.probe(9), true, TLS, Require.NONE), "a probe inside TLS");
        byte[] hugeCred = RawRpc.call().xid(1).credRaw(java.nio.ByteBuffer.allocate(8).putInt(1).putInt(401).array()).bytes();
        assertEquals("REFUSE 1 BAD_CREDENTIAL", decideWhy(hugeCred, false, 0, Require.NONE));

        // A reply below the level is dropped, with the reason; at the level it passes, with none.
        assertEquals("DROP NO_TLS", decideWhy(REPLY, false, 0, Require.TLS), "a plain client's reply under --require tls");
        assertEquals("DROP NO_CERTIFICATE", decideWhy(REPLY, true, TLS, Require.CERT));
        assertEquals("DROP DISABLED", decideWhy(REPLY, true, DISABLED, Require.CERT));
        assertEquals("RELAY", decideWhy(REPLY, true, DISABLED, Require.TLS), "DISABLED counts as tls for replies too");
        assertEquals("RELAY", decideWhy(REPLY, false, 0, Require.NONE));
        // So is what the backend would have judged: it cannot be a NULL call.
        byte[] v3 = RawRpc.call().xid(1).rpcvers(3).proc(0).bytes();
        assertEquals("DROP NO_TLS", decideWhy(v3, false, 0, Require.TLS), "RPC_MISMATCH below the level");
        assertEquals("DROP NO_TLS", decideWhy(new byte[6], false, 0, Require.TLS), "truncated below the level");
        assertEquals("RELAY", decideWhy(v3, true, TLS, Require.TLS));
        assertEquals("DROP", decideWhy(java.nio.ByteBuffer.allocate(8).putInt(5).putInt(7).array(), false, 0, Require.TLS),
                "neither call nor reply: dropped whatever the level, without a reason");
        assertEquals("RELAY", decideWhy(call(0, SYS), false, 0, Require.CERTUSER), "NULL passes, no reason");
    }

    @Test
    void certificateUserReplacesOnlyTheCredentialAndCarriesAtMostSixteenGroups() {
        byte[] verf = RawRpc.opaqueAuth(0, new byte[0]);
        byte[] args = {1, 2, 3, 4, 5, 6, 7, 8};
        byte[] cred = RawRpc.opaqueAuth(1, RawRpc.authSysBody("host.example.org", 1000, 100, 2, new int[] {5, 6}));
        byte[] rec = RawRpc.call().xid(42).prog(100003).vers(3).proc(1).credRaw(cred).verfRaw(verf).args(args).bytes();
        XdrReader r = new XdrReader(rec, 0, rec.length);
        CallHeader h = CallHeader.decode(r, f -> true);
        h.decodeAuthSys(rec);

        int[] many = new int[20]; // the primary group and 19 supplementary ones: AUTH_SYS carries 16
        for (int i = 0; i < many.length; i++) {
            many[i] = 3000 + i;
        }
        for (int[] gids : new int[][] {{4000}, {}, {4000, 4001, 4002}, many}) {
            byte[] out = CallPolicy.asCertificateUser(rec, h, 0xEE6B2800, gids); // uid 4000000000: unsigned on the wire
            XdrReader or = new XdrReader(out, 0, out.length);
            CallHeader oh = CallHeader.decode(or, f -> true);
            oh.decodeAuthSys(out);
            assertEquals(42, oh.xid);
            assertEquals(1, oh.procedure);
            assertEquals(0xEE6B2800, oh.authSys.uid);
            assertEquals(gids.length > 0 ? gids[0] : 0, oh.authSys.gid, "the first group is the primary one");
            int carried = Math.min(Math.max(gids.length - 1, 0), 16);
            assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOfRange(gids, Math.min(1, gids.length), Math.min(1, gids.length) + carried)),
                    java.util.Arrays.toString(oh.authSys.gids), "the first supplementary groups, at most 16");
            assertEquals(gids.length - 1 > 16, CallPolicy.groupsTrimmed(gids));
            assertEquals("host.example.org", oh.authSys.machineName, "the machine name is the client's");
            assertEquals(h.authSys.stamp, oh.authSys.stamp);
            byte[] tail = java.util.Arrays.copyOfRange(out, out.length - verf.length - args.length, out.length);
            byte[] want = java.nio.ByteBuffer.allocate(verf.length + args.length).put(verf).put(args).array();
            assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(tail), "the verifier and arguments as they came");
            assertEquals(0, java.util.Arrays.compare(rec, 0, 24, out, 0, 24), "the header before the credential as it came");
        }
    }
}
