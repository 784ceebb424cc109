package org.rpctlsservd.metrics;

import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The Prometheus client's own process_* and jvm_* series (its JVM instrumentation module), with two
 * limits of ours. They are registered once the daemon is ready, on a thread of their own that then
 * ends: registering starts the JVM's management beans, about a second of CPU on a busy two-core
 * machine, which the start must not wait for (until then a scrape has the daemon's own series
 * only). And they are read at most once per {@link #MAX_AGE_MILLIS}: reading them takes a few
 * milliseconds, which pipelined scrapes on the one HTTP loop would add up in front of /ready.
 */
final class JvmSeries implements MultiCollector {
    private static final Logger LOG = Logger.getLogger("rpctlssd");
    /** Prometheus scrapes every 15 s or so: a second's staleness costs nothing. */
    static final long MAX_AGE_MILLIS = 1000;
    /** Set once every series is registered: a scrape never sees (and keeps for a second) half of them. */
    private volatile PrometheusRegistry series;
    private boolean started;
    private MetricSnapshots last;
    private long readAt;

    /** Registers the series on a short-lived thread; once only. */
    synchronized void start() {
        if (started) {
            return;
        }
        started = true;
        Thread t = new Thread(() -> {
            try {
                PrometheusRegistry all = new PrometheusRegistry();
                JvmMetrics.builder().register(all);
                series = all;
            } catch (RuntimeException | Error e) {
                LOG.log(Level.WARNING, "metrics: no process and JVM series: " + e, e);
            }
        }, "metrics-jvm");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public synchronized MetricSnapshots collect() {
        PrometheusRegistry all = series;
        if (all == null) {
            return new MetricSnapshots(); // not registered yet: the daemon's own series only
        }
        long now = System.nanoTime();
        if (last == null || now - readAt >= TimeUnit.MILLISECONDS.toNanos(MAX_AGE_MILLIS)) {
            last = all.scrape();
            readAt = now;
        }
        return last;
    }
}
