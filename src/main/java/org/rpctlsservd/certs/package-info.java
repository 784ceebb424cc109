/**
 * Certificates and keys, read and checked: the server's credentials (from PEM files or a PKCS#11
 * token), the CAs and CRLs client chains are verified against, the allow lists, the {@code -h}
 * host check, and the {@code -u} mapping of a certificate's user to a uid and groups.
 *
 * <p>May use: {@code guard} (rate-limited warnings). Not the generated RPC code: its group limit
 * is rpctlssd.x's, kept here and checked against the generated one by a test.
 */
package org.rpctlsservd.certs;
