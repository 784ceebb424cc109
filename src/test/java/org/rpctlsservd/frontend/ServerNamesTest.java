package org.rpctlsservd.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The connector's look-ups: literals at once; one look-up per name in flight, whose answer every waiting client gets. */
class ServerNamesTest {
    @Test
    void clientsOfANameWaitForTheOneLookUpInFlight() throws Exception {
        Connect c = new Connect(new InetSocketAddress("127.0.0.1", 0), "localhost", 2049, "");
        try (ServerNames names = new ServerNames()) {
            CountDownLatch hold = new CountDownLatch(1);
            CountDownLatch held = new CountDownLatch(1);
            names.lookups().execute(() -> { // the look-up thread is busy: what the clients ask queues behind this
                held.countDown();
                try {
                    hold.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(held.await(10, TimeUnit.SECONDS));
            List<InetSocketAddress> answers = new CopyOnWriteArrayList<>();
            CountDownLatch all = new CountDownLatch(1000);
            for (int i = 0; i < 1000; i++) {
                names.resolve(c, (a, why) -> {
                    answers.add(a);
                    all.countDown();
                });
            }
            assertEquals(1, names.lookups().getQueue().size(), "one look-up queued for a thousand clients of one name");
            hold.countDown();
            assertTrue(all.await(10, TimeUnit.SECONDS), "every client answered");
            assertTrue(answers.stream().allMatch(a -> a != null && a.getAddress().isLoopbackAddress() && a.getPort() == 2049), answers.toString());
            // the next client asks again: a server that moves is followed
            CountDownLatch again = new CountDownLatch(1);
            names.resolve(c, (a, why) -> again.countDown());
            assertTrue(again.await(10, TimeUnit.SECONDS));
        }
    }

    /** Only what parses strictly as an IP literal skips the look-up thread: what merely looks like one would reach DNS on a loop. */
    @Test
    void literalsAreParsedStrictly() {
        for (String yes : new String[] {"192.0.2.7", "::1", "2001:db8::7", "::ffff:192.0.2.7"}) {
            org.junit.jupiter.api.Assertions.assertTrue(ServerNames.literal(yes), yes);
        }
        for (String no : new String[] {"999.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "localhost", "nfs.example.org", "1e100.net"}) {
            org.junit.jupiter.api.Assertions.assertFalse(ServerNames.literal(no), no);
        }
        org.junit.jupiter.api.Assertions.assertTrue(new Connect(new InetSocketAddress("127.0.0.1", 0), "nfs.example.org", 2049, "")
                .healthKey().isUnresolved(), "a name is tracked as the name");
        org.junit.jupiter.api.Assertions.assertEquals(new InetSocketAddress("192.0.2.7", 2049),
                new Connect(new InetSocketAddress("127.0.0.1", 0), "192.0.2.7", 2049, "").healthKey());
    }

    @Test
    void aLiteralIsAnsweredAtOnceOnTheCallersThread() {
        Connect c = new Connect(new InetSocketAddress("127.0.0.1", 0), "192.0.2.7", 2049, "");
        try (ServerNames names = new ServerNames()) {
            Thread[] on = new Thread[1];
            InetSocketAddress[] got = new InetSocketAddress[1];
            names.resolve(c, (a, why) -> {
                on[0] = Thread.currentThread();
                got[0] = a;
            });
            assertEquals(Thread.currentThread(), on[0]);
            assertEquals("192.0.2.7:2049", got[0].getAddress().getHostAddress() + ":" + got[0].getPort());
        }
    }
}
