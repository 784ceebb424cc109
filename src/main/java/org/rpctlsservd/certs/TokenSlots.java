package org.rpctlsservd.certs;

import java.io.IOException;
import java.lang.reflect.Method;

/**
 * Finds a PKCS#11 token's slot by the token's label. The JDK's provider can be told a slot, not a
 * label, and its public API cannot list token labels; its PKCS#11 wrapper can, and the launcher
 * exports it to the daemon ({@code --add-exports jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED}).
 * Reading labels needs no login, so no PIN is tried on a token that is not ours.
 */
final class TokenSlots {
    private static final String WRAPPER = "sun.security.pkcs11.wrapper.";
    /** CKF_OS_LOCKING_OK, as the JDK's provider initializes a module: the one process-wide initialization must suit it. */
    private static final long CKF_OS_LOCKING_OK = 0x2;

    private TokenSlots() {
    }

    static long find(String module, String label) throws IOException {
        StringBuilder seen = new StringBuilder();
        try {
            Class<?> pkcs11 = Class.forName(WRAPPER + "PKCS11");
            Class<?> initArgs = Class.forName(WRAPPER + "CK_C_INITIALIZE_ARGS");
            Object args = initArgs.getConstructor().newInstance();
            initArgs.getField("flags").setLong(args, CKF_OS_LOCKING_OK);
            Method getInstance = pkcs11.getMethod("getInstance", String.class, String.class, initArgs, boolean.class);
            Object p11 = getInstance.invoke(null, module, "C_GetFunctionList", args, false);
            long[] slots = (long[]) pkcs11.getMethod("C_GetSlotList", boolean.class).invoke(p11, true);
            Method tokenInfo = pkcs11.getMethod("C_GetTokenInfo", long.class);
            for (long slot : slots) {
                Object info = tokenInfo.invoke(p11, slot);
                String l = new String((char[]) info.getClass().getField("label").get(info)).trim();
                if (l.equals(label)) {
                    return slot;
                }
                seen.append(seen.length() == 0 ? "" : ", ").append('`').append(l).append("' (slot ").append(slot).append(')');
            }
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw new IOException("cannot list the tokens of " + module + ": " + e.getCause(), e);
        } catch (ReflectiveOperationException | RuntimeException | IllegalAccessError e) {
            throw new IOException("cannot list the tokens of " + module + " (" + e + "); name the slot with slot-id=N instead of token=", e);
        }
        throw new IOException("no token labelled `" + label + "' in " + module + "; there are " + (seen.length() == 0 ? "none" : seen));
    }
}
