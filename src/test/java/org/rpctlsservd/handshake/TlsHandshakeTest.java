package org.rpctlsservd.handshake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctlsservd.support.TestPki;
import org.rpctlsservd.support.TlsHarness;

class TlsHandshakeTest {
    @TempDir
    Path tmp;

    @Test
    void plainHandshakeGivesFlagsOne() throws Exception {
        TestPki.Ca ca = TestPki.ca("Test CA");
        TestPki.Issued server = ca.leaf("server").dns("localhost").issue();
        try (TlsHarness h = new TlsHarness(tmp, ca, server)) {
            TlsHarness.Attempt a = h.attempt(TlsHarness.jdkClient(null, ca, "TLSv1.3"));
            assertEquals(0x01, a.flags(), String.valueOf(a.clientError()));
            assertNotNull(a.socket());
            assertEquals("TLSv1.3", a.socket().getSession().getProtocol());
        }
    }
}
