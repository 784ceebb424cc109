package org.rpctlsservd.rpc;

import java.io.IOException;
import org.acplt.oncrpc.OncRpcException;

/** One ONC-RPC program served by {@link RpcDispatcher}; header checks are done before it is called. */
public interface RpcProgram {
    int program();

    int lowVersion();

    int highVersion();

    /**
     * Handles one call whose program and version are this program's. The call must be answered
     * (now or, after {@link RpcCall#defer()}, later from any thread).
     */
    void dispatch(RpcCall call) throws OncRpcException, IOException;
}
