package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.rpctlsservd.rpc.CallHeader;
import org.rpctlsservd.rpc.RecordParser;
import org.rpctlsservd.rpc.RpcMessages;
import org.rpctlsservd.rpc.XdrReader;

/** The connector's STARTTLS probe from bytes: what it sends, and how each reply a server may give is read. */
class StartTlsProbeTest {
    private static final int XID = 0x5eed;

    @Test
    void theProbeIsTheCallOurOwnFrontEndTakesForOne() throws Exception {
        byte[] call = StartTlsProbe.call(XID, 100003, 4);
        XdrReader r = new XdrReader(call, 0, call.length);
        CallHeader h = CallHeader.decode(r, f -> true);
        assertEquals(CallHeader.Problem.NONE, h.problem, "a well-formed call");
        assertEquals(XID, h.xid);
        assertEquals(100003, h.program);
        assertEquals(4, h.version);
        assertEquals(0, h.procedure, "NULL");
        assertEquals(CallHeader.AUTH_TLS, h.credFlavor);
        assertEquals(0, h.credLength);
        assertEquals(0, h.verfFlavor, "AUTH_NONE");
        assertEquals(0, r.remaining(), "nothing after the verifier");
        // and the front end's policy takes exactly this for a probe
        assertEquals(CallPolicy.Action.START_TLS, CallPolicy.decide(h, true, false, 0, true, Require.NONE).action());
    }

    @Test
    void theStartTlsReplyOfRfc9289IsRecognised() {
        StartTlsProbe.Answer a = StartTlsProbe.classify(RpcMessages.startTls(XID), XID);
        assertEquals(StartTlsProbe.Kind.STARTTLS, a.kind(), a.what());
    }

    @Test
    void anAuthErrorIsNotStartTlsAndSaysWhichError() {
        StartTlsProbe.Answer a = StartTlsProbe.classify(RpcMessages.authError(XID, 1), XID);
        assertEquals(StartTlsProbe.Kind.NOT_STARTTLS, a.kind());
        assertTrue(a.what().contains("AUTH_ERROR") && a.what().contains("AUTH_BADCRED"), a.what());
    }

    @Test
    void progUnavailAndASuccessWithoutTheVerifierAreNotStartTls() {
        StartTlsProbe.Answer unavail = StartTlsProbe.classify(accepted(0, new byte[0], 1), XID);
        assertEquals(StartTlsProbe.Kind.NOT_STARTTLS, unavail.kind());
        assertTrue(unavail.what().contains("PROG_UNAVAIL"), unavail.what());
        StartTlsProbe.Answer plainNull = StartTlsProbe.classify(accepted(0, new byte[0], 0), XID);
        assertEquals(StartTlsProbe.Kind.NOT_STARTTLS, plainNull.kind());
        assertTrue(plainNull.what().contains("no verifier"), plainNull.what());
        StartTlsProbe.Answer otherWord = StartTlsProbe.classify(accepted(0, "STARTSSL".getBytes(), 0), XID);
        assertEquals(StartTlsProbe.Kind.NOT_STARTTLS, otherWord.kind(), otherWord.what());
        StartTlsProbe.Answer otherFlavor = StartTlsProbe.classify(accepted(1, "STARTTLS".getBytes(), 0), XID);
        assertEquals(StartTlsProbe.Kind.NOT_STARTTLS, otherFlavor.kind(), "STARTTLS must come as AUTH_NONE's body");
    }

    @Test
    void garbageIsNamedAsSuch() {
        byte[] good = RpcMessages.startTls(XID);
        for (int cut = 0; cut < good.length; cut++) {
            StartTlsProbe.Answer a = StartTlsProbe.classify(Arrays.copyOf(good, cut), XID);
            assertEquals(StartTlsProbe.Kind.GARBAGE, a.kind(), "cut at " + cut + ": " + a.what());
        }
        assertEquals(StartTlsProbe.Kind.GARBAGE, StartTlsProbe.classify(RpcMessages.startTls(XID + 1), XID).kind(), "another xid");
        assertEquals(StartTlsProbe.Kind.GARBAGE, StartTlsProbe.classify(StartTlsProbe.call(XID, 1, 1), XID).kind(), "a call");
        byte[] huge = ByteBuffer.allocate(20).putInt(XID).putInt(1).putInt(0).putInt(0).putInt(0x7fffffff).array();
        assertTrue(StartTlsProbe.classify(huge, XID).what().contains("verifier of"), "a verifier longer than RFC 5531 allows");
        byte[] trailing = Arrays.copyOf(good, good.length + 4);
        assertEquals(StartTlsProbe.Kind.GARBAGE, StartTlsProbe.classify(trailing, XID).kind(), "a NULL reply has no results");
    }

    @Test
    void theClientsFirstCallNamesTheProbesProgram() {
        ByteBuffer framed = RecordParser.framed(StartTlsProbe.call(7, 100005, 3));
        byte[] first = Arrays.copyOf(framed.array(), 24);
        assertArrayEquals(new int[] {100005, 3}, StartTlsProbe.programOf(first, 24));
        assertNull(StartTlsProbe.programOf(first, 23), "not enough yet");
        byte[] reply = Arrays.copyOf(RecordParser.framed(RpcMessages.startTls(7)).array(), 24);
        assertNull(StartTlsProbe.programOf(reply, 24), "not a call");
    }

    /** MSG_ACCEPTED with verifier {@code flavor}/{@code body} and {@code acceptStat}, for the probe. */
    private static byte[] accepted(int flavor, byte[] body, int acceptStat) {
        int padded = (body.length + 3) & ~3;
        return ByteBuffer.allocate(24 + padded).putInt(XID).putInt(1).putInt(0).putInt(flavor).putInt(body.length).put(body)
                .position(20 + padded).putInt(acceptStat).array();
    }
}
