package org.rpctlsservd.frontend;

/**
 * --backend-source-ports: the local ports backend connections come from, {@code low} to
 * {@code high}; {@code low} 0 for any (the kernel's choice). {@code given}: on the command line or
 * in the file, so a daemon that may not bind them refuses to start instead of falling back.
 */
public record SourcePortRange(int low, int high, boolean given) {
    /** The default: reserved ports, the range the Linux NFS client uses (sunrpc min_resvport, max_resvport). */
    public static final SourcePortRange RESERVED = new SourcePortRange(665, 1023, false);
    public static final SourcePortRange ANY = new SourcePortRange(0, 0, true);

    public boolean any() {
        return low == 0;
    }

    public int count() {
        return any() ? 0 : high - low + 1;
    }

    @Override
    public String toString() {
        return any() ? "any" : low + "-" + high;
    }
}
