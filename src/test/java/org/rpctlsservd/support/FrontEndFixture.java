package org.rpctlsservd.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What the front-end tests share: a CA of their own (named per class, since log lines name it),
 * a server and a client certificate for localhost, and a fresh plain echo backend for each test.
 * Registered as {@code @RegisterExtension static final FrontEndFixture FX = new FrontEndFixture("... CA");}.
 */
public final class FrontEndFixture implements BeforeEachCallback, AfterEachCallback {
    public final TestPki.Ca ca;
    public final TestPki.Issued server;
    public final TestPki.Issued client;
    private EchoBackend backend;

    public FrontEndFixture(String caName) {
        ca = TestPki.ca(caName);
        server = ca.leaf("server").dns("localhost").issue();
        client = ca.leaf("client").dns("localhost").issue();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        try {
            backend = new EchoBackend();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        backend.close();
    }

    /** This test's backend. */
    public EchoBackend backend() {
        return backend;
    }

    /** A daemon with a front end in {@code dir}, on this fixture's server certificate, relaying to this test's backend. */
    public FrontEndHarness frontEnd(Path dir, String... args) throws Exception {
        return new FrontEndHarness(dir, server, backend.port(), args);
    }

    /** A daemon with a front end in {@code dir}, on this fixture's server certificate, relaying to {@code backendPort}. */
    public FrontEndHarness frontEnd(Path dir, int backendPort, String... args) throws Exception {
        return new FrontEndHarness(dir, server, backendPort, args);
    }
}
