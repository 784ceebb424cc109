package org.rpctlsservd.handshake;

import org.rpctlsservd.sessions.Session;

/** A finished handshake: the RPCTLS_FLAGS_* bits, the mapped user, and the live session. */
public record HandshakeOutcome(int flags, int uid, int[] gids, Session session) {
    public static final int FLAGS_HANDSHAKE = 0x01;
    public static final int FLAGS_GOTCERT = 0x02;
    public static final int FLAGS_SELFSIGNED = 0x04;
    public static final int FLAGS_VERIFIED = 0x08;
    public static final int FLAGS_DISABLED = 0x10;
    public static final int FLAGS_CERTUSER = 0x20;
    /** NGROUPS on FreeBSD: never send more gids, the kernel does not bound the count. */
    public static final int NGROUPS = 1024;

    public HandshakeOutcome {
        gids = gids == null ? new int[0] : gids.clone();
        if (gids.length > NGROUPS) {
            throw new IllegalArgumentException(gids.length + " gids exceed NGROUPS (" + NGROUPS + ")");
        }
    }

    public boolean certUser() {
        return (flags & FLAGS_CERTUSER) != 0;
    }
}
