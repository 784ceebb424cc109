package org.rpctlsservd.handshake;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.crypto.TlsCertificate;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Failure;

/**
 * The client side of RPC-over-TLS handshakes (rpc.tlsclntd's rpctls_connect) with Bouncy Castle's
 * TLS API in non-blocking mode, stepped on the handshake workers as the server's side is
 * ({@link HandshakeSteps}). The trust material can be replaced at any time (a reload's new CRL);
 * a handshake uses what is current when it starts.
 */
final class ClientEngine implements ClientTls {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final ClientPolicy policy;
    private final RecordCrypto crypto = new RecordCrypto(new SecureRandom());
    /** -m's cert.pem/certkey.pem, parsed once; null without -m. */
    private final ServerCredentials own;
    private final TlsCertificate[] ownChain;
    private final AtomicReference<TrustMaterial> trust;
    private final ScheduledExecutorService timer;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Sessions' records go to our record layer at completion; false only for tests of Bouncy Castle's own record state. */
    private volatile boolean handOver = true;

    ClientEngine(ClientPolicy policy, TrustMaterial trust, ScheduledExecutorService timer) throws IOException {
        if (policy.verify() != (trust != null)) {
            throw new IllegalArgumentException(policy.verify() ? "verify needs trust material (-l/-p)" : "trust material without verify");
        }
        this.policy = policy;
        this.own = policy.presentCert() ? ServerCredentials.load(policy.certDir()) : null; // at start, as rpc.tlsclntd
        this.ownChain = own == null ? null : Signers.parse(crypto, own);
        this.trust = new AtomicReference<>(trust);
        this.timer = timer;
    }

    @Override
    public CompletionStage<HandshakeOutcome> connect(SocketChannel socket, String serverName, String certName, long cookie,
            Steps workers, long receivedNanos) {
        Run run = new Run(socket, serverName, certName == null ? "" : certName, cookie, workers, receivedNanos);
        run.start();
        return run.future;
    }

    @Override
    public TrustMaterial trust() {
        return trust.get();
    }

    @Override
    public void replaceTrust(TrustMaterial t) {
        if (policy.verify() != (t != null)) {
            throw new IllegalArgumentException("trust material is " + (policy.verify() ? "needed" : "not used") + " here");
        }
        trust.set(t);
    }

    @Override
    public int inFlight() {
        return inFlight.get();
    }

    /** For TrafficStateTest, which looks at Bouncy Castle's record state after the handshake: sessions keep their records on it. */
    void keepRecordsOnBouncyCastle() {
        handOver = false;
    }

    @Override
    public void close() {
        // nothing of its own runs: its steps are the workers', its deadlines the timer's
    }

    /** One client handshake, from the ClientHello to its outcome. */
    private final class Run extends HandshakeSteps {
        final long cookie;
        final String certName;
        /** The name or IP literal the certificate must match; the peer's address when the caller gave none. */
        String serverName;
        InetSocketAddress peer;
        RpcTlsClient client;

        Run(SocketChannel ch, String serverName, String certName, long cookie, Steps workers, long received) {
            super(ch, workers, received, "the server");
            this.serverName = serverName;
            this.certName = certName;
            this.cookie = cookie;
        }

        void start() {
            inFlight.incrementAndGet();
            try {
                ch.configureBlocking(false);
                peer = (InetSocketAddress) ch.getRemoteAddress();
                if (serverName == null || serverName.isEmpty()) {
                    serverName = LogText.ip(peer.getAddress());
                }
                armDeadline(timer, policy.deadline());
                ServerCredentials creds = own;
                TlsCertificate[] chain = ownChain;
                if (policy.presentCert() && !certName.isEmpty()) {
                    try {
                        creds = ServerCredentials.loadNamed(policy.certDir(), certName); // per mount, as rpc.tlsclntd reads it
                        chain = Signers.parse(crypto, creds);
                    } catch (IOException e) {
                        fail(Failure.INTERNAL, "client certificate " + certName + " (-m): " + e.getMessage(), e);
                        return;
                    }
                }
                client = new RpcTlsClient(crypto, policy, trust.get(), serverName, creds, chain);
                TlsClientProtocol clientProtocol = new TlsClientProtocol();
                protocol = clientProtocol;
                clientProtocol.connect(client); // the ClientHello, sent by the first step
                afterStep();
            } catch (IOException | RuntimeException e) {
                fail(Failure.INTERNAL, "handshake set-up failed: " + LogText.why(e, other), e);
            }
        }

        @Override
        boolean complete() {
            return client.complete();
        }

        @Override
        String alert() {
            return client == null ? null : client.failure();
        }

        @Override
        void completed() {
            if (!settle()) {
                return;
            }
            inFlight.decrementAndGet();
            boolean verified = client.verified();
            int flags = HandshakeOutcome.FLAGS_HANDSHAKE
                    | (verified ? HandshakeOutcome.FLAGS_GOTCERT | HandshakeOutcome.FLAGS_VERIFIED : 0);
            SecurityParameters sp = client.securityParameters();
            TlsSession session = new TlsSession(cookie, ch, protocol, peer, verified ? client.serverChain() : List.of(), flags,
                    client.verification(), versionName(sp), alpnName(sp), crypto.tap(sp, false), false, leftover(), handOver);
            audit(flags, null);
            Metrics.handshakeOk(flags, false, started); // the client-certificate series counts clients' certificates only
            future.complete(new HandshakeOutcome(flags, 0, new int[0], session));
        }

        @Override
        void failed(Failure kind, String reason) {
            inFlight.decrementAndGet();
            audit(0, reason);
            Metrics.handshakeFailed(kind, started);
        }

        /** The client's audit line, the server's format with the server's address and certificate. */
        void audit(int flags, String failure) {
            StringBuilder b = auditLine("server", peer, cookie);
            b.append(failure != null ? " result=failed" : " result=ok");
            appendTls(b, client == null ? null : client.securityParameters());
            appendCertificate(b, client == null ? List.of() : client.serverChain());
            if (policy.verify()) {
                b.append(" name=").append(serverName);
            }
            if (client != null && client.askedForCertificate()) {
                b.append(" client.cert=").append(certName.isEmpty() ? (own == null ? "none" : "default") : certName);
            }
            if (failure == null) {
                appendFlags(b, flags);
            }
            appendEnd(b, failure);
            LOG.info(b.toString());
        }
    }
}
