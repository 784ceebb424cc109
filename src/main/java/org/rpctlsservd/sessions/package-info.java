/**
 * TLS sessions after their handshake, by cookie: the session table that HANDLERECORD, DISCONNECT,
 * the CRL re-check and shutdown act on, the hand-off of accepted sockets to CONNECT (the analogue
 * of FreeBSD's rpctls_syscall), and how a cookie appears in logs.
 *
 * <p>May use: none of our packages. It does not know the RPCTLSSD wire format: the result codes
 * it returns are rpctlssd.x's values, kept here and checked against the generated ones by a test.
 */
package org.rpctlsservd.sessions;
