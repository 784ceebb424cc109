/**
 * Event loops: one selector thread each, on which callbacks run that must never block. The TLS
 * engine waits for handshakes' sockets on one; the front end serves its connections, and its
 * upcall client, on its own.
 */
package org.rpctlsservd.io;
