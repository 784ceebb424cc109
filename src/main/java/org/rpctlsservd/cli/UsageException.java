package org.rpctlsservd.cli;

/** The command line was refused: {@link #getMessage()} is what goes to stderr, then exit 1. */
public final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
