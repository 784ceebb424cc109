/**
 * The process and its wiring: Main (options, pidfile, signals, detaching), the Daemon that
 * builds, owns and closes every part from a Config, the pre-start checks, TLS setup, logging,
 * sd_notify and the packaging-time training run. Nothing else may use it.
 *
 * <p>May use: {@code certs}, {@code cli}, {@code frontend}, {@code guard}, {@code handshake},
 * {@code io}, {@code metrics}, {@code proxy}, {@code records}, {@code rpc}, {@code rpc.gen},
 * {@code rpcbind}, {@code service}, {@code sessions}: it is the top, where everything is put together.
 */
package org.rpctlsservd.daemon;
