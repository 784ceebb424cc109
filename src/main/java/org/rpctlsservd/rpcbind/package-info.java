/**
 * Registration with rpcbind: portmap version 2 and rpcbind version 4 calls to the system's
 * portmapper, an embedded loopback-only portmapper when none answers, and the programs a
 * {@code --relay} names registered at the relay's TLS port.
 *
 * <p>May use: {@code rpc} (the embedded portmapper is served by its dispatcher).
 */
package org.rpctlsservd.rpcbind;
