package org.rpctlsservd.frontend;

import java.net.InetSocketAddress;

/**
 * --relay: a listener, the plain server it relays to, and the RPC programs served behind it
 * (which the daemon registers with rpcbind at the listener's port, where nobody else has).
 */
public record Relay(InetSocketAddress listen, InetSocketAddress backend, java.util.List<Program> programs) {
    public Relay {
        programs = java.util.List.copyOf(programs);
    }

    /** An RPC program behind a relay and the versions it serves there; {@code name} as rpcinfo prints it, or null. */
    public record Program(int number, String name, java.util.List<Integer> versions) {
        public Program {
            versions = java.util.List.copyOf(versions);
        }

        @Override
        public String toString() {
            return (name != null ? name : Integer.toUnsignedString(number)) + " "
                    + versions.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("+"));
        }
    }
}
