/**
 * ONC-RPC (RFC 5531) on Remote Tea's message classes: record marking, XDR with bounds, call
 * headers and AUTH_SYS decoded defensively, the dispatcher that answers every malformed call, the
 * TCP, UDP and Unix-domain servers, and the asynchronous client the upcalls use. Its subpackage
 * {@code gen} is jrpcgen's output for src/main/x/rpctlssd.x (generated at every build, never
 * committed): the RPCTLSSD wire types and constants, for handshake, service, frontend and daemon.
 *
 * <p>May use: {@code guard}, {@code io}, {@code metrics} (the RPC messages it counts).
 */
package org.rpctlsservd.rpc;
