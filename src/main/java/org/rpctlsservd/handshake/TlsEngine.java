package org.rpctlsservd.handshake;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsServerProtocol;
import org.rpctlsservd.certs.CertUser;
import org.rpctlsservd.certs.Dn;
import org.rpctlsservd.certs.HostMatcher;
import org.rpctlsservd.certs.NameService;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.metrics.Metrics;
import org.rpctlsservd.metrics.Metrics.Failure;

/**
 * The server side of RPC-over-TLS handshakes with Bouncy Castle's TLS API in non-blocking mode.
 * A handshake is a series of short CPU steps on the handshake workers (offering the bytes that
 * arrived, producing the next flight); between steps it holds no worker: the workers wait for the
 * sockets in their own selectors ({@link Steps}), and DNS and user look-ups run on a separate pool. Every
 * handshake has a deadline. Credentials and trust material can be replaced at any time: a
 * handshake uses those current when it starts.
 */
public final class TlsEngine implements ServerTls {
    private static final Logger LOG = Logger.getLogger("rpctlssd");

    private final TlsPolicy policy;
    private final RecordCrypto crypto = new RecordCrypto(new SecureRandom());
    private final AtomicReference<Prepared> credentials;
    private final AtomicReference<TrustMaterial> trust;
    private final NameService names;
    private final ScheduledExecutorService timer;
    private final ThreadPoolExecutor lookups;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Sessions' records go to our record layer at completion; false only for tests of Bouncy Castle's own record state. */
    private volatile boolean handOver = true;

    public TlsEngine(TlsPolicy policy, ServerCredentials credentials, TrustMaterial trust, NameService names,
            ScheduledExecutorService timer) throws IOException {
        this.policy = policy;
        this.credentials = new AtomicReference<>(new Prepared(credentials, Signers.parse(crypto, credentials)));
        this.trust = new AtomicReference<>(trust);
        this.names = names;
        this.timer = timer;
        AtomicInteger serial = new AtomicInteger();
        this.lookups = new ThreadPoolExecutor(8, 8, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(4096), r -> {
            Thread t = new Thread(r, "tls-lookup-" + serial.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        lookups.allowCoreThreadTimeOut(true);
    }

    public TlsPolicy policy() {
        return policy;
    }

    /** Credentials with their certificates already parsed for the TLS layer. */
    private record Prepared(ServerCredentials credentials, org.bouncycastle.tls.crypto.TlsCertificate[] chain) {
    }

    public ServerCredentials credentials() {
        return credentials.get().credentials();
    }

    /** New handshakes use {@code c}; live sessions keep theirs. */
    public void replaceCredentials(ServerCredentials c) throws IOException {
        credentials.set(new Prepared(c, Signers.parse(crypto, c)));
    }

    /** The trust material, or null when client certificates are not checked. */
    public TrustMaterial trust() {
        return trust.get();
    }

    public void replaceTrust(TrustMaterial t) {
        trust.set(t);
    }

    /** Handshakes started and not yet finished. */
    public int inFlight() {
        return inFlight.get();
    }

    @Override
    public CompletionStage<HandshakeOutcome> handshake(SocketChannel socket, InetSocketAddress client, long cookie, Steps workers,
            long receivedNanos) {
        Run run = new Run(socket, client, cookie, workers, receivedNanos);
        run.start();
        return run.future;
    }

    /** For TrafficStateTest, which looks at Bouncy Castle's record state after the handshake: sessions keep their records on it. */
    void keepRecordsOnBouncyCastle() {
        handOver = false;
    }

    @Override
    public void close() {
        lookups.shutdownNow();
    }

    /** One handshake, from the first step to its outcome: the server's side of the shared stepping. */
    private final class Run extends HandshakeSteps {
        final long cookie;
        RpcTlsServer server;
        InetSocketAddress peer;
        /** How the client's chain was checked (null: not checked), kept by the session for the front end's refusals. */
        TrustMaterial.Verification verification;
        /** What the audit line must say besides the outcome: why a certificate did not count, a check that failed. */
        final List<String> notes = new java.util.concurrent.CopyOnWriteArrayList<>();

        /** The client a PROXY header named, or null: the socket's peer. */
        final InetSocketAddress client;

        Run(SocketChannel ch, InetSocketAddress client, long cookie, Steps workers, long received) {
            super(ch, workers, received, "the client");
            this.client = client;
            this.cookie = cookie;
        }

        void start() {
            inFlight.incrementAndGet();
            try {
                ch.configureBlocking(false);
                peer = client != null ? client : (InetSocketAddress) ch.getRemoteAddress();
                armDeadline(timer, policy.deadline());
                TrustMaterial t = trust.get();
                Prepared p = credentials.get();
                server = new RpcTlsServer(crypto, p.credentials(), p.chain(), policy, t == null ? List.of() : t.caNames());
                TlsServerProtocol serverProtocol = new TlsServerProtocol();
                protocol = serverProtocol;
                serverProtocol.accept(server);
                afterStep();
            } catch (IOException | RuntimeException e) {
                fail(Failure.INTERNAL, "handshake set-up failed: " + LogText.why(e, "the client"), e);
            }
        }

        @Override
        boolean complete() {
            return server.complete();
        }

        @Override
        String alert() {
            return server.alert();
        }

        @Override
        void completed() {
            verify();
        }

        /** On a worker: the client certificate checks of rpc.tlsservd, then any look-ups. */
        void verify() {
            if (done.get()) {
                return;
            }
            int flags = HandshakeOutcome.FLAGS_HANDSHAKE;
            List<X509CertificateHolder> chain = server.clientChain();
            TrustMaterial t = trust.get();
            if (policy.requestClientCert() && t != null) {
                if (chain.isEmpty()) {
                    LOG.fine("rpctls_server: No peer certificate");
                } else {
                    flags |= HandshakeOutcome.FLAGS_GOTCERT;
                    TrustMaterial.Verification v = t.verify(chain);
                    // kept in words: the front end's refusals of this client's calls say it the same way
                    verification = v.verified() ? v : new TrustMaterial.Verification(false, v.selfSigned(), inWords(v, chain.get(0)), v.notAllowed());
                    if (!v.verified()) {
                        // the C daemon's own line, for -v; the audit line says it too, with the rest of the handshake
                        LOG.fine(() -> "rpctls_server: client IP " + peer.getAddress().getHostAddress() + " issuerName="
                                + Dn.oneline(chain.get(0).getIssuer()) + " subjectName=" + Dn.oneline(chain.get(0).getSubject())
                                + " verify failed " + v.reason());
                        notes.add((v.notAllowed() ? "certificate verified but " : "certificate not verified: ") + verification.reason());
                    }
                    if (v.selfSigned()) {
                        flags |= HandshakeOutcome.FLAGS_SELFSIGNED;
                    } else if (v.verified()) {
                        int f = flags | HandshakeOutcome.FLAGS_VERIFIED;
                        if (policy.checkHost() || policy.certUser()) {
                            try {
                                lookups.execute(() -> lookUp(f, chain));
                            } catch (RejectedExecutionException e) {
                                fail(Failure.OVERLOADED, "look-up pool overloaded", e);
                            }
                            return;
                        }
                        finish(f, chain, 0, new int[0]);
                        return;
                    }
                }
            }
            finish(flags, List.of(), 0, new int[0]);
        }

        /** On the look-up pool: reverse DNS for -h, the name service for -u. */
        void lookUp(int flags, List<X509CertificateHolder> chain) {
            if (done.get()) {
                return;
            }
            X509CertificateHolder leaf = chain.get(0);
            if (policy.checkHost()) {
                Optional<String> host = reverseName(peer.getAddress());
                host.ifPresent(h -> LOG.fine("rpctls_checkhost: DNS " + h));
                if (host.isEmpty() || !HostMatcher.matches(leaf, host.get(), policy.wildcardFlags())) {
                    flags |= HandshakeOutcome.FLAGS_DISABLED;
                    LOG.fine("rpctls_server: checkhost failed");
                    notes.add(host.isEmpty() ? "host check (-h) failed: " + LogText.ip(peer.getAddress()) + " has no DNS name"
                            : "host check (-h) failed: the certificate does not name " + host.get());
                }
            }
            int uid = 0;
            int[] gids = new int[0];
            if (policy.certUser()) {
                Optional<String> named = CertUser.user(leaf, policy.domain());
                Optional<NameService.User> u = named.flatMap(names::lookup);
                if (named.isEmpty()) {
                    notes.add("no user mapped (-u): the certificate names no user@" + policy.domain());
                } else if (u.isEmpty()) {
                    notes.add("no user mapped (-u): no user " + named.get() + " here, or one in more than "
                            + HandshakeOutcome.NGROUPS + " groups");
                }
                if (u.isPresent()) {
                    flags |= HandshakeOutcome.FLAGS_CERTUSER;
                    uid = u.get().uid();
                    gids = u.get().gids();
                    NameService.User user = u.get();
                    LOG.fine(() -> "mapped user=" + user.name() + " ngrps=" + user.gids().length + " uid=" + Integer.toUnsignedString(user.uid()));
                }
            }
            finish(flags, chain, uid, gids);
        }

        void finish(int flags, List<X509CertificateHolder> verified, int uid, int[] gids) {
            if (!settle()) {
                return;
            }
            inFlight.decrementAndGet();
            SecurityParameters sp = server.securityParameters();
            TlsSession session = new TlsSession(cookie, ch, protocol, peer, verified, flags, verification, versionName(sp), alpnName(sp), crypto.tap(sp, true),
                    true, leftover(), handOver);
            HandshakeOutcome outcome = new HandshakeOutcome(flags, uid, gids, session);
            audit(flags, uid, null);
            Metrics.handshakeOk(flags, !server.clientChain().isEmpty(), started);
            future.complete(outcome);
        }

        @Override
        void failed(Failure kind, String reason) {
            inFlight.decrementAndGet();
            audit(0, 0, reason);
            Metrics.handshakeFailed(kind, started);
        }

        /**
         * The RFC 9289 section 6.1 audit record: the one line per handshake, with every reason joined.
         * {@code result}: ok (a TLS session, and any certificate asked for counts as verified),
         * unverified (a TLS session whose certificate does not count: the calls it may make are up to
         * exports or --require), failed (no session); {@code reason} says why, in words.
         */
        void audit(int flags, int uid, String failure) {
            StringBuilder b = auditLine("peer", peer, cookie);
            List<String> why = new java.util.ArrayList<>();
            if (failure != null) {
                why.add(failure);
            }
            why.addAll(notes);
            boolean unverified = (flags & HandshakeOutcome.FLAGS_GOTCERT) != 0
                    && (flags & (HandshakeOutcome.FLAGS_VERIFIED | HandshakeOutcome.FLAGS_DISABLED)) != HandshakeOutcome.FLAGS_VERIFIED;
            b.append(failure != null ? " result=failed" : unverified ? " result=unverified" : " result=ok");
            appendTls(b, server == null ? null : server.securityParameters());
            appendCertificate(b, server == null ? List.of() : server.clientChain());
            if (failure == null) {
                appendFlags(b, flags);
                b.append(" uid=").append((flags & HandshakeOutcome.FLAGS_CERTUSER) != 0 ? Integer.toUnsignedString(uid) : "-");
            }
            appendEnd(b, why.isEmpty() ? null : String.join("; ", why));
            LOG.info(b.toString());
        }
    }

    /**
     * Why a client certificate does not count as verified, in words, naming its issuer when no CA
     * here signed it (OpenSSL's reason kept, for searching; the JDK's own replaced).
     */
    static String inWords(TrustMaterial.Verification v, X509CertificateHolder leaf) {
        String r = v.reason() == null ? "no reason given" : v.reason();
        if (v.notAllowed()) {
            return r;
        }
        String issuer = " (issuer " + Dn.oneline(leaf.getIssuer()) + ")";
        if (v.selfSigned()) {
            return r + ", not trusted here" + issuer;
        }
        if (TlsSides.noPathToCa(r)) {
            return "no path to a CA trusted here (verifylocs/verifydir)" + issuer;
        }
        return r + issuer;
    }

    /** getnameinfo(NI_NAMEREQD): the PTR name, or empty when there is none. */
    static Optional<String> reverseName(InetAddress address) {
        try {
            String name = InetAddress.getByAddress(address.getAddress()).getHostName();
            return name.equals(address.getHostAddress()) ? Optional.empty() : Optional.of(name);
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
