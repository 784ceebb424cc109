/**
 * The RFC 9289 front end: accepts RPC clients, answers their STARTTLS probe, makes the upcall that
 * runs the handshake, protects records with the resulting session, applies the call policy and
 * relays calls to the plain backend, with its own settings types (FrontEndSettings, Relay,
 * Require, SourcePortRange) that the daemon fills from the options.
 *
 * <p>May use: {@code certs}, {@code guard}, {@code handshake} (its interfaces and values only),
 * {@code io}, {@code metrics}, {@code proxy}, {@code rpc}, {@code rpc.gen} (the upcall's argument
 * and result types), {@code sessions}. Never the command line.
 */
package org.rpctlsservd.frontend;
