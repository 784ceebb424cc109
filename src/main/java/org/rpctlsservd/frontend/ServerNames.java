package org.rpctlsservd.frontend;

import java.io.Closeable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.rpctlsservd.guard.LogText;
import org.rpctlsservd.proxy.IpLiteral;

/**
 * The connector's servers by name, resolved at each connect (a server that moves is followed): an
 * IP literal at once, a DNS name on a thread of its own ({@code connector-lookup}, made at the
 * first name, gone when idle), since a look-up may wait on the network and the loops never wait.
 * One look-up per name at a time: clients that come while it runs wait for its answer, so the
 * queue holds at most one task per --connect, however slow the name service and many the clients.
 */
final class ServerNames implements Closeable {
    /** The clients waiting for each name's look-up in flight. */
    private final java.util.Map<Connect, java.util.List<BiConsumer<InetSocketAddress, String>>> waiting = new java.util.HashMap<>();

    private final ThreadPoolExecutor lookups = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
            r -> {
                Thread t = new Thread(r, "connector-lookup");
                t.setDaemon(true);
                return t;
            });

    /** True when {@code host} is an IPv4 or IPv6 literal (parsed without any look-up). */
    static boolean literal(String host) {
        return literalAddress(host) != null;
    }

    /**
     * The address an IPv4 or IPv6 literal spells, or null for anything else (a name, to be looked up
     * on the look-up thread): strictly parsed, so that nothing that only looks like one (999.1.1.1,
     * 1.2.3) reaches the name service on a loop.
     */
    static InetAddress literalAddress(String host) {
        try {
            return IpLiteral.either(host);
        } catch (IpLiteral.NotALiteral e) {
            return null;
        }
    }

    /**
     * The address of {@code c}'s server, or null and why, to {@code then}: at once (on the caller's
     * thread) for a literal, else from the look-up thread.
     */
    void resolve(Connect c, BiConsumer<InetSocketAddress, String> then) {
        if (literal(c.serverHost())) {
            answer(c, then);
            return;
        }
        synchronized (waiting) {
            java.util.List<BiConsumer<InetSocketAddress, String>> w = waiting.get(c);
            if (w != null) {
                w.add(then); // a look-up of this name runs: its answer is this client's too
                return;
            }
            waiting.put(c, new java.util.ArrayList<>(java.util.List.of(then)));
        }
        ExecutorService e = lookups;
        try {
            e.execute(() -> answer(c, (a, why) -> {
                java.util.List<BiConsumer<InetSocketAddress, String>> all;
                synchronized (waiting) {
                    all = waiting.remove(c);
                }
                all.forEach(t -> t.accept(a, why));
            }));
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            java.util.List<BiConsumer<InetSocketAddress, String>> all;
            synchronized (waiting) {
                all = waiting.remove(c);
            }
            all.forEach(t -> t.accept(null, "the daemon is stopping"));
        }
    }

    private static void answer(Connect c, BiConsumer<InetSocketAddress, String> then) {
        InetSocketAddress a;
        try {
            InetAddress literal = literalAddress(c.serverHost());
            a = new InetSocketAddress(literal != null ? literal : InetAddress.getByName(c.serverHost()), c.serverPort());
        } catch (UnknownHostException | SecurityException e) {
            then.accept(null, LogText.why(e, "the name service"));
            return;
        }
        then.accept(a, null);
    }

    /** The look-up thread's pool (tests hold its thread to see what queues behind it). */
    ThreadPoolExecutor lookups() {
        return lookups;
    }

    @Override
    public void close() {
        lookups.shutdownNow();
    }
}
