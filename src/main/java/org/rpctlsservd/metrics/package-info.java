/**
 * The daemon's event counters (counted where events happen, served or not) and the
 * {@code --metrics} HTTP server: Prometheus text on /metrics, /ready, the JVM's series. What the
 * gauges read and the daemon's version come from the daemon through MetricsServer.Sources.
 *
 * <p>May use: {@code guard}, {@code io} (the HTTP server runs on one event loop).
 */
package org.rpctlsservd.metrics;
