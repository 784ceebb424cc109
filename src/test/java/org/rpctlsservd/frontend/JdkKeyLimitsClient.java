package org.rpctlsservd.frontend;

import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.KeyStore;
import java.util.Arrays;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.rpctlsservd.support.EchoBackend;
import org.rpctlsservd.support.FrontEndHarness;
import org.rpctlsservd.support.RawRpc;

/**
 * RecordLayerRelayTest's JDK client, run in a JVM of its own (started with a low jdk.tls.keyLimits):
 * RFC 9289 to the front end at args[0], trusting the PKCS#12 store args[1], then two calls of
 * 1 MiB whose replies (the calls echoed) it checks; exit status 0 and "RELAYED" when all came back.
 */
public final class JdkKeyLimitsClient {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(args[1])) {
            ts.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(null, tmf.getTrustManagers(), null);
        ctx.getDefaultSSLParameters();
        try (Socket s = RawRpc.connect(port)) {
            SSLSocket ssl = FrontEndHarness.startTls(s, port, ctx, x -> x.setEnabledCipherSuites(new String[] {"TLS_AES_128_GCM_SHA256"}));
            ssl.setSoTimeout(60_000);
            DataInputStream in = new DataInputStream(ssl.getInputStream());
            for (int xid = 1; xid <= 2; xid++) {
                byte[] payload = new byte[1 << 20];
                Arrays.fill(payload, (byte) xid);
                byte[] call = RawRpc.call().xid(xid).prog(EchoBackend.PROGRAM).vers(1).proc(7).args(payload).bytes();
                ssl.getOutputStream().write(ByteBuffer.allocate(4 + call.length).putInt(0x80000000 | call.length).put(call).array());
                ssl.getOutputStream().flush();
                byte[] reply = RawRpc.readRecord(in);
                if (reply.length != 24 + call.length || !Arrays.equals(call, Arrays.copyOfRange(reply, 24, reply.length))) {
                    System.out.println("BAD REPLY to call " + xid + ": " + reply.length + " bytes");
                    System.exit(2);
                }
            }
            System.out.println("RELAYED 2 MiB each way");
            ssl.close();
        }
    }
}
