package org.rpctlsservd.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * libnfs-utils 4.0's nfs-ls, nfs-cat and nfs-cp as the NFS client, each with a timeout. The URLs
 * name 127.0.0.1 (a connector of rpc.tlsclntd); libnfs uses one host for
 * NFS and MOUNT, so both ports are on it. Its NFSv4 writes above 2,050 bytes fail in libnfs itself ("ZDR error: Failed to
 * encode COMPOUND4args"): write with NFSv3, read with either. nfs-cp cannot overwrite a name.
 */
public final class Libnfs {
    /** Generous for 64 MiB through TLS on a loaded 2-core machine; a hung client fails the test after it. */
    public static final int TIMEOUT_SECONDS = 300;

    private Libnfs() {
    }

    /** NFSv3: {@code file} under the export's real path, MOUNT at {@code mountPort}. */
    public static String v3(int nfsPort, int mountPort, String exportPath, String file) {
        return "nfs://127.0.0.1" + exportPath + "/" + file + "?nfsport=" + nfsPort + "&mountport=" + mountPort;
    }

    /** NFSv4.0 (libnfs has no 4.1): {@code file} under the pseudo path, no MOUNT. */
    public static String v4(int nfsPort, String pseudo, String file) {
        return "nfs://127.0.0.1" + pseudo + "/" + file + "?version=4&nfsport=" + nfsPort;
    }

    /** A URL of a directory: {@link #v3} or {@link #v4} with an empty file name. */
    public static Commands.Result ls(String url) throws IOException, InterruptedException {
        return Commands.run(TIMEOUT_SECONDS, "nfs-ls", url);
    }

    public static Commands.Result cat(String url) throws IOException, InterruptedException {
        return Commands.run(TIMEOUT_SECONDS, "nfs-cat", url);
    }

    /** Copies a local file to a new name in the export, or a file in the export to a new local file. */
    public static Commands.Result cp(String from, String to) throws IOException, InterruptedException {
        return Commands.run(TIMEOUT_SECONDS, "nfs-cp", from, to);
    }

    /** {@link #ls}, failing with libnfs's words when it fails. */
    public static String lsOk(String url) throws IOException, InterruptedException {
        return ok(ls(url), "nfs-ls " + url);
    }

    public static String catOk(String url) throws IOException, InterruptedException {
        return ok(cat(url), "nfs-cat " + url);
    }

    public static void cpOk(String from, String to) throws IOException, InterruptedException {
        ok(cp(from, to), "nfs-cp " + from + " " + to);
    }

    private static String ok(Commands.Result r, String what) {
        if (r.status() != 0) {
            throw new AssertionError(what + " failed (" + r.status() + "): " + r.output().strip());
        }
        return r.output();
    }

    /** Hex SHA-256 of a file, read in pieces. */
    public static String sha256(Path p) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            try (InputStream in = Files.newInputStream(p)) {
                for (int r; (r = in.read(buf)) > 0;) {
                    md.update(buf, 0, r);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
