/**
 * HAProxy's PROXY protocol, versions 1 and 2 (reading a load balancer's header, writing one in
 * front of a backend connection), address blocks and IP literals that never ask DNS.
 *
 * <p>May use: none of our packages: wire formats and address syntax only.
 */
package org.rpctlsservd.proxy;
