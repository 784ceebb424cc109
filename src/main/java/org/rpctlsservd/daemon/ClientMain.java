package org.rpctlsservd.daemon;

import java.io.IOException;
import java.util.List;
import org.rpctlsservd.cli.Cli;
import org.rpctlsservd.cli.Config;
import org.rpctlsservd.cli.Opt;

/**
 * The rpc.tlsclntd process: FreeBSD's client-side handshake daemon (RPCTLSCD on its Unix-domain
 * socket, registered with rpcbind) and, with --connect, the connector. Its process model is
 * rpc.tlsservd's ({@link Main}): pidfile, detaching without -d, SIGTERM stops, SIGHUP reloads,
 * sd_notify readiness, --metrics.
 */
public final class ClientMain {
    private ClientMain() {
    }

    static final Main.Kind CLIENT = new Main.Kind() {
        @Override
        public Opt.Side side() {
            return Opt.Side.CLIENT;
        }

        @Override
        public String defaultProgname() {
            return Cli.CLIENT_PROGNAME;
        }

        @Override
        public String serviceName() {
            return "rpctlscd";
        }

        @Override
        public Class<?> mainClass() {
            return ClientMain.class;
        }

        @Override
        public Main.Prepared prepare(Config config) throws Preflight.Refused {
            try {
                ClientSetup.check(config);
            } catch (TlsSetup.SetupException e) {
                throw new Preflight.Refused(e.getMessage());
            }
            return new Main.Prepared(Preflight.client(config), () -> start(config));
        }

        @Override
        public Daemon start(Config config) throws IOException, TlsSetup.SetupException {
            return Daemon.startClient(config);
        }
    };

    public static void main(String[] args) {
        Main.main(args, CLIENT);
    }
}
