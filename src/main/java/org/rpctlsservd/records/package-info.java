/**
 * Record protection for an established session, the part FreeBSD gives its kernel: TLS 1.3 (RFC
 * 8446 section 5: from the traffic secrets a finished handshake leaves, with KeyUpdate) and the
 * TLS 1.2 AEAD suites of -2 (RFC 5288, RFC 7905: from the keys and ivs of its key block). Records
 * are framed, opened and sealed in place in the caller's buffers on the JDK's AES-GCM and
 * ChaCha20-Poly1305 (TLS 1.3's between direct buffers on libcrypto, through {@code NativeGcm}), with
 * alerts and the limits of the RFCs. Pure: no sockets, no threads; the callers read and write. Others see it through {@link org.rpctlsservd.records.RecordLayer}, so that a kernel-TLS
 * implementation could later take its place.
 *
 * <p>May use: none of our packages.
 */
package org.rpctlsservd.records;
