/**
 * The server's TLS handshake on Bouncy Castle: the engine, the handshake workers and their
 * selectors, the policy (versions, suites, groups, deadline) and the session each successful
 * handshake leaves. Others see only its interfaces (Handshaker, Steps and the typed doors to an
 * established session and to the engine) and the values HandshakeOutcome, TlsPolicy,
 * HandshakeWorkers and EstablishedSessions; TlsEngine and TlsSession stay inside (LayeringTest).
 *
 * <p>May use: {@code certs}, {@code guard}, {@code io}, {@code metrics}, {@code records} (the
 * record layer a session's records go to after its handshake), {@code rpc.gen} (the
 * result flags and group limit of rpctlssd.x), {@code sessions}.
 */
package org.rpctlsservd.handshake;
