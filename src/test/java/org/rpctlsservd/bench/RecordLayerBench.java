package org.rpctlsservd.bench;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Random;
import org.rpctlsservd.records.RecordLayer;
import org.rpctlsservd.records.Tls13RecordLayer;
import org.rpctlsservd.records.Tls13Suite;
import org.rpctlsservd.records.TlsAlertException;
import org.rpctlsservd.records.TrafficSecrets;

/**
 * The record layer's throughput and allocations, per suite: 1 MiB sealed in 16 KiB records into
 * one buffer, then opened in place from a read buffer, over and over. Prints MB/s for sealing,
 * opening and both, and the bytes allocated per record (the JDK's cipher objects per record).
 * Both on direct buffers (what socket I/O wants) and on heap buffers (what the JDK's ciphers are
 * fastest on before Java 18; NIO then copies through a direct buffer of its own per read and write).
 * Run by the lead, not a test:
 * {@code java -cp target/test-classes:target/classes org.rpctlsservd.bench.RecordLayerBench [seconds [direct|heap]]}.
 */
public final class RecordLayerBench {
    private static final int MIB = 1 << 20;

    private RecordLayerBench() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3.0;
        String[] kinds = args.length > 1 ? new String[] {args[1]} : new String[] {"direct", "heap"};
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        System.out.printf("java %s (%s), 1 MiB in %d-byte records, %.1f s per suite after as long a warm-up%n",
                System.getProperty("java.version"), System.getProperty("java.vm.name"), RecordLayer.MAX_PLAINTEXT, seconds);
        System.out.printf("%-30s %-7s %10s %10s %12s %14s %14s%n", "suite", "buffers", "seal MB/s", "open MB/s", "seal+open",
                "B alloc/seal", "B alloc/open");
        for (String kind : kinds) {
        boolean direct = kind.equals("direct");
        for (Tls13Suite suite : Tls13Suite.values()) {
            byte[] c = new byte[suite.hashLength];
            byte[] s = new byte[suite.hashLength];
            new Random(1).nextBytes(c);
            new Random(2).nextBytes(s);
            RecordLayer sender = Tls13RecordLayer.of(Tls13RecordLayer.Side.CLIENT, new TrafficSecrets(suite, s, 0, c, 0));
            RecordLayer receiver = Tls13RecordLayer.of(Tls13RecordLayer.Side.SERVER, new TrafficSecrets(suite, c, 0, s, 0));
            ByteBuffer plain = allocate(direct, MIB);
            byte[] r = new byte[MIB];
            new Random(3).nextBytes(r);
            plain.put(r).flip();
            int records = MIB / RecordLayer.MAX_PLAINTEXT;
            ByteBuffer wire = allocate(direct, MIB + records * RecordLayer.OVERHEAD);
            ByteBuffer in = allocate(direct, wire.capacity() + RecordLayer.MAX_RECORD);
            long[] bytesDelivered = {0};
            RecordLayer.Inbound sink = new RecordLayer.Inbound() {
                @Override
                public void applicationData(ByteBuffer buffer, int offset, int length) {
                    bytesDelivered[0] += length;
                }

                @Override
                public void keyUpdate(boolean updateRequested) {
                }

                @Override
                public void closeNotify() {
                }

                @Override
                public void alert(int description, boolean fatal) {
                    throw new IllegalStateException(TlsAlertException.name(description));
                }
            };
            run(sender, receiver, plain, wire, in, sink, seconds, null, threads, self); // warm-up
            long[] m = new long[5];
            bytesDelivered[0] = 0;
            run(sender, receiver, plain, wire, in, sink, seconds, m, threads, self);
            if (bytesDelivered[0] != m[0] * MIB) {
                throw new IllegalStateException("delivered " + bytesDelivered[0] + " of " + m[0] * MIB);
            }
            double mb = m[0] * (double) MIB / 1e6;
            System.out.printf("%-30s %-7s %10.0f %10.0f %12.0f %14.0f %14.0f%n", suite, kind, mb / (m[1] / 1e9), mb / (m[2] / 1e9),
                    mb / ((m[1] + m[2]) / 1e9), m[3] / (double) (m[0] * records), m[4] / (double) (m[0] * records));
        }
        }
    }

    private static ByteBuffer allocate(boolean direct, int size) {
        return direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
    }

    /** m: iterations, seal ns, open ns, seal bytes allocated, open bytes allocated. */
    private static void run(RecordLayer sender, RecordLayer receiver, ByteBuffer plain, ByteBuffer wire, ByteBuffer in,
            RecordLayer.Inbound sink, double seconds, long[] m, com.sun.management.ThreadMXBean threads, long self)
            throws TlsAlertException {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long[] t = new long[5];
        while (System.nanoTime() < end) {
            plain.rewind();
            wire.clear();
            long a0 = threads.getThreadAllocatedBytes(self);
            long t0 = System.nanoTime();
            sender.seal(plain, wire);
            long t1 = System.nanoTime();
            long a1 = threads.getThreadAllocatedBytes(self);
            wire.flip();
            in.put(wire); // the socket read: outside the timing
            long a2 = threads.getThreadAllocatedBytes(self);
            long t2 = System.nanoTime();
            receiver.open(in, sink);
            long t3 = System.nanoTime();
            long a3 = threads.getThreadAllocatedBytes(self);
            t[0]++;
            t[1] += t1 - t0;
            t[2] += t3 - t2;
            t[3] += a1 - a0;
            t[4] += a3 - a2;
        }
        if (m != null) {
            System.arraycopy(t, 0, m, 0, t.length);
        }
    }
}
