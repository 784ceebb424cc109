package org.rpctlsservd.cli;

import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.rpctlsservd.frontend.Relay;
import org.rpctlsservd.frontend.Require;
import org.rpctlsservd.frontend.SourcePortRange;

/**
 * The rules between options, all in one place, checked after each option's own check and in this
 * order (the C daemon's first): the first one broken is the message.
 */
final class Rules {
    private Rules() {
    }

    /** A rule: the message when {@code broken} gives one, else null. */
    private record Rule(Function<Config, String> broken) {
    }

    private static Rule rule(java.util.function.Predicate<Config> broken, String message) {
        return new Rule(c -> broken.test(c) ? message : null);
    }

    private static boolean haveCa(Config c) {
        return c.caFile() != null || c.caPath() != null;
    }

    private static boolean frontEnd(Config c) {
        return !c.listen().isEmpty() || !c.relays().isEmpty();
    }

    private static final List<Rule> RULES = List.of(
            rule(c -> c.mutualVerify() && !haveCa(c), "-m requires the -l <CAfile> and/or -p <CApath> options"),
            rule(c -> c.checkHost() && !(c.mutualVerify() && haveCa(c)), "-h requires the -m plus the -l <CAfile> and/or -p <CApath> options"),
            rule(c -> c.wildcardFlags() != Config.NO_WILDCARDS && !c.checkHost(), "The -w or -W options require the -h option"),
            rule(c -> c.certUser() && !(c.mutualVerify() && haveCa(c)), "-u requires the -m plus the -l <CAfile> and/or -p <CApath> options"),
            rule(c -> (!c.allowSubjects().isEmpty() || !c.allowSans().isEmpty() || c.requireEku()) && !(c.mutualVerify() && haveCa(c)),
                    "--allow-subject, --allow-san and --require-eku require the -m plus the -l <CAfile> and/or -p <CApath> options"),
            rule(c -> c.keyUri() != null && c.keyPassphraseFile() != null, "--key-uri and --key-passphrase-file are mutually exclusive"),
            rule(c -> (c.keyUri() != null || c.keyPassphraseFile() != null) && c.throwawayCert(),
                    "--key-uri and --key-passphrase-file do not go with --throwaway-cert"),
            rule(c -> !c.listen().isEmpty() && c.backend() == null, "--listen requires --backend <host:port>"),
            rule(c -> c.listen().isEmpty() && c.backend() != null, "--backend needs --listen <addr:port> (a --relay names its own backend)"),
            rule(c -> !frontEnd(c) && (c.require() != Require.NONE || !c.acceptProxyFrom().isEmpty() || c.backendProxy() != 0
                    || !c.backendSourcePorts().equals(SourcePortRange.RESERVED) || !c.backendSources().isEmpty()),
                    "--require, --accept-proxy-from, --backend-proxy, --backend-source-ports and --backend-source need"
                            + " --listen <addr:port> or --relay"),
            new Rule(Rules::listenedOnTwice),
            // The front end's upcall is the handshake's caller: one that gives up first would see a handshake succeed after it.
            new Rule(c -> frontEnd(c) ? upcallOutrun(c, "the front end") : null));

    private static boolean connector(Config c) {
        return !c.connects().isEmpty();
    }

    /** rpc.tlsclntd's: FreeBSD's one rule first, then the connector's. */
    private static final List<Rule> CLIENT_RULES = List.of(
            rule(c -> c.crlFile() != null && !haveCa(c), "-r requires the -l <CAfile> and/or -p <CApath> options"),
            rule(c -> !connector(c) && (c.allowPlain() || !c.serverSourcePorts().equals(SourcePortRange.RESERVED)
                    || !c.serverSources().isEmpty()),
                    "--allow-plain, --server-source-ports and --server-source need --connect <listen,server>"),
            new Rule(Rules::connectListenedOnTwice),
            new Rule(c -> connector(c) ? upcallOutrun(c, "the connector") : null));

    private static String connectListenedOnTwice(Config c) {
        Set<InetSocketAddress> listening = new HashSet<>();
        for (org.rpctlsservd.frontend.Connect k : c.connects()) {
            if (k.listen().getPort() != 0 && !listening.add(k.listen())) {
                return "--connect: " + org.rpctlsservd.guard.LogText.address(k.listen()) + " is listened on twice";
            }
        }
        return null;
    }

    /** A handshake deadline at or past the upcall's: {@code who} would give up a CONNECT whose handshake may still succeed. */
    private static String upcallOutrun(Config c, String who) {
        return c.handshakeTimeout().compareTo(c.upcallTimeout()) >= 0
                ? "--handshake-timeout (" + Parse.secondsText(c.handshakeTimeout()) + ") must be below --upcall-timeout ("
                        + Parse.secondsText(c.upcallTimeout()) + "): " + who + " would give up a CONNECT upcall"
                        + " while its handshake may still succeed"
                : null;
    }

    private static String listenedOnTwice(Config c) {
        Set<InetSocketAddress> listening = new HashSet<>(c.listen());
        for (Relay r : c.relays()) {
            if (r.listen().getPort() != 0 && !listening.add(r.listen())) {
                return "--relay: " + org.rpctlsservd.guard.LogText.address(r.listen()) + " is listened on twice";
            }
        }
        return null;
    }

    /** The first rule {@code c} breaks, as a refusal without the program's name. */
    static void check(Opt.Side program, Config c) throws UsageException {
        for (Rule r : program == Opt.Side.CLIENT ? CLIENT_RULES : RULES) {
            String message = r.broken().apply(c);
            if (message != null) {
                throw new UsageException(message);
            }
        }
    }
}
