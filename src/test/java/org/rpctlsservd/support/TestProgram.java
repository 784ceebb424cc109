package org.rpctlsservd.support;

import java.io.IOException;
import org.acplt.oncrpc.OncRpcException;
import org.rpctlsservd.rpc.RpcCall;
import org.rpctlsservd.rpc.RpcProgram;

/** A test's own ONC-RPC program, version 1, whose calls go to {@code handler}. */
public final class TestProgram implements RpcProgram {
    /** Handles one call (it must answer or defer it). */
    @FunctionalInterface
    public interface Handler {
        void handle(RpcCall call) throws OncRpcException, IOException;
    }

    private final int program;
    private final Handler handler;

    public TestProgram(int program, Handler handler) {
        this.program = program;
        this.handler = handler;
    }

    @Override
    public int program() {
        return program;
    }

    @Override
    public int lowVersion() {
        return 1;
    }

    @Override
    public int highVersion() {
        return 1;
    }

    @Override
    public void dispatch(RpcCall call) throws OncRpcException, IOException {
        handler.handle(call);
    }
}
