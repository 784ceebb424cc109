/**
 * TLS 1.3 record protection for an established session (RFC 8446 section 5), the part FreeBSD
 * gives its kernel: from the traffic secrets a finished handshake leaves, records are framed,
 * opened and sealed in place in the caller's buffers on the JDK's AES-GCM and ChaCha20-Poly1305, with
 * KeyUpdate, alerts and the limits of the RFC. Pure: no sockets, no threads; the callers read and
 * write. Others see it through {@link org.rpctlsservd.records.RecordLayer}, so that a kernel-TLS
 * implementation could later take its place.
 *
 * <p>May use: none of our packages.
 */
package org.rpctlsservd.records;
