package org.rpctlsservd.handshake;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.ScheduledExecutorService;
import org.rpctlsservd.certs.NameService;
import org.rpctlsservd.certs.ServerCredentials;
import org.rpctlsservd.certs.TrustMaterial;

/**
 * The daemon's TLS handshakes as the daemon sees them: a {@link Handshaker} whose credentials and
 * trust a reload replaces. The one way to make one is {@link #start}; its implementation stays
 * inside this package.
 */
public interface ServerTls extends Handshaker, Closeable {
    /** The TLS engine for {@code policy}, serving {@code credentials} and checking clients against {@code trust} (null: none). */
    static ServerTls start(TlsPolicy policy, ServerCredentials credentials, TrustMaterial trust, NameService names,
            ScheduledExecutorService timer) throws IOException {
        return new TlsEngine(policy, credentials, trust, names, timer);
    }

    ServerCredentials credentials();

    /** New handshakes use {@code c}; live sessions keep theirs. */
    void replaceCredentials(ServerCredentials c) throws IOException;

    /** The trust material, or null when client certificates are not checked. */
    TrustMaterial trust();

    void replaceTrust(TrustMaterial t);

    /** Handshakes started and not yet finished. */
    int inFlight();

    @Override
    void close();
}
