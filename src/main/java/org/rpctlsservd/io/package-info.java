/**
 * Selectors with one-shot callbacks ({@link org.rpctlsservd.io.Readiness}), and event loops built
 * on them: one selector thread each, on which callbacks run that must never block. The front end
 * serves its connections and upcall clients on its loops, the RPC service its connections; the
 * handshake workers wait in selectors of their own. Accepting at the file-descriptor limit
 * ({@link org.rpctlsservd.io.Acceptor}). Also the one quiet close
 * ({@link org.rpctlsservd.io.Channels}) and the one "run this later on this loop"
 * ({@link org.rpctlsservd.io.IoLoop#later}).
 *
 * <p>May use: {@code guard} (a loop that cannot select ends the process).
 */
package org.rpctlsservd.io;
