/**
 * Program RPCTLSSD version 2, the upcall service the kernel (or the front end) calls: NULL,
 * HANDLERECORD and DISCONNECT answered at once, CONNECT handed to the handshake workers and
 * answered when its handshake ends.
 *
 * <p>May use: {@code guard}, {@code handshake}, {@code io} (the quiet close), {@code metrics},
 * {@code rpc}, {@code rpc.gen} (its skeleton and argument types), {@code sessions}.
 */
package org.rpctlsservd.service;
