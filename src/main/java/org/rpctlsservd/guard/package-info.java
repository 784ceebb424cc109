/**
 * What keeps the daemon whole under hostile load: the memory budget shared by all front-end
 * connections, rate-limited warnings, accepting at the file-descriptor limit, and fail-fast
 * handling of errors in threads the daemon cannot live without.
 */
package org.rpctlsservd.guard;
