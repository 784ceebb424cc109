package org.rpctlsservd.io;

import java.io.Closeable;
import java.io.IOException;

/** The one quiet close: for sockets being given up, where a failure to close has nobody to tell. */
public final class Channels {
    private Channels() {
    }

    /** Closes {@code c} (null allowed), ignoring the IOException a half-dead socket may throw. */
    public static void closeQuietly(Closeable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException ignored) {
            // already given up: nothing to tell
        }
    }
}
