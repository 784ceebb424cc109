package org.rpctlsservd.handshake;

import org.rpctlsservd.rpc.gen.rpctlssd;
import org.rpctlsservd.sessions.Session;

/** A finished handshake: the RPCTLS_FLAGS_* bits, the mapped user, and the live session. */
public record HandshakeOutcome(int flags, int uid, int[] gids, Session session) {
    public static final int FLAGS_HANDSHAKE = rpctlssd.RPCTLS_FLAGS_HANDSHAKE;
    public static final int FLAGS_GOTCERT = rpctlssd.RPCTLS_FLAGS_GOTCERT;
    public static final int FLAGS_SELFSIGNED = rpctlssd.RPCTLS_FLAGS_SELFSIGNED;
    public static final int FLAGS_VERIFIED = rpctlssd.RPCTLS_FLAGS_VERIFIED;
    public static final int FLAGS_DISABLED = rpctlssd.RPCTLS_FLAGS_DISABLED;
    public static final int FLAGS_CERTUSER = rpctlssd.RPCTLS_FLAGS_CERTUSER;
    /** NGROUPS on FreeBSD: never send more gids, the kernel does not bound the count. */
    public static final int NGROUPS = rpctlssd.RPCTLS_NGROUPS;

    public HandshakeOutcome {
        gids = gids == null ? new int[0] : gids.clone();
        if (gids.length > NGROUPS) {
            throw new IllegalArgumentException(gids.length + " gids exceed NGROUPS (" + NGROUPS + ")");
        }
    }

    /** The RPCTLS_FLAGS_* bits in words, for log lines: "handshake,gotcert,verified". */
    public static String flagNames(int flags) {
        StringBuilder b = new StringBuilder();
        String[] names = {"handshake", "gotcert", "selfsigned", "verified", "disabled", "certuser"};
        int[] bits = {FLAGS_HANDSHAKE, FLAGS_GOTCERT, FLAGS_SELFSIGNED, FLAGS_VERIFIED, FLAGS_DISABLED, FLAGS_CERTUSER};
        for (int i = 0; i < bits.length; i++) {
            if ((flags & bits[i]) != 0) {
                b.append(b.length() == 0 ? "" : ",").append(names[i]);
            }
        }
        return b.length() == 0 ? "none" : b.toString();
    }

    public boolean certUser() {
        return (flags & FLAGS_CERTUSER) != 0;
    }
}
