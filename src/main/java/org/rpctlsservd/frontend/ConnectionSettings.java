package org.rpctlsservd.frontend;

/**
 * What a connection is told of the front end's settings, and nothing more.
 *
 * @param require          --require
 * @param maxRecord        the largest record either side may send
 * @param backendProxy     --backend-proxy: 0 none, 1 or 2 the PROXY protocol version to send
 * @param proxyHeaderNanos how long a trusted peer has to send its PROXY header
 * @param allowPlain       the connector's --allow-plain: relay in plain text to a server that does not answer STARTTLS
 */
record ConnectionSettings(Require require, int maxRecord, int backendProxy, long proxyHeaderNanos, boolean allowPlain) {
}
