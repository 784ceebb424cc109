/**
 * What keeps the daemon whole under hostile load: the memory budget shared by all front-end
 * connections, rate-limited warnings, and fail-fast
 * handling of errors in threads the daemon cannot live without.
 *
 * <p>May use: none of our packages. It is the bottom layer: io's loops stop the process through
 * its Fatal, so it cannot use io in turn.
 */
package org.rpctlsservd.guard;
