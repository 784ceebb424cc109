/**
 * The command line and the {@code --config} file: the C daemon's options, checks and messages,
 * plus this implementation's long options, validated into one Config.
 *
 * <p>May use: {@code certs} (token URIs), {@code frontend} (its settings types, which options
 * produce), {@code guard}, {@code proxy} (address blocks and literals).
 */
package org.rpctlsservd.cli;
