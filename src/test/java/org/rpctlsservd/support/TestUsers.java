package org.rpctlsservd.support;

import java.util.ArrayList;
import java.util.List;

/** Local users and groups made for a test with useradd and groupadd (the tests run as root). */
public final class TestUsers implements AutoCloseable {
    public final String user;
    public final List<String> groups;
    public final int uid;
    /** Primary gid first, then the others in the order made. */
    public final int[] gids;

    private TestUsers(String user, List<String> groups, int uid, int[] gids) {
        this.user = user;
        this.groups = groups;
        this.uid = uid;
        this.gids = gids;
    }

    /** Makes {@code user} with {@code groupCount} groups named {@code prefix}1.., the first its primary. */
    public static TestUsers create(String user, String prefix, int groupCount) throws Exception {
        remove(user, prefix, groupCount);
        List<String> groups = new ArrayList<>();
        int[] gids = new int[groupCount];
        for (int i = 1; i <= groupCount; i++) {
            String g = prefix + i;
            Commands.Result r = Commands.run(30, "groupadd", g);
            if (r.status() != 0) {
                throw new AssertionError("groupadd " + g + " (the tests need root): " + r.output());
            }
            groups.add(g);
            gids[i - 1] = Integer.parseInt(Commands.run(30, "getent", "group", g).output().split(":")[2]);
        }
        List<String> cmd = new ArrayList<>(List.of("useradd", "-M", "-N", "-g", groups.get(0)));
        if (groupCount > 1) {
            cmd.add("-G");
            cmd.add(String.join(",", groups.subList(1, groups.size())));
        }
        cmd.add(user);
        Commands.Result r = Commands.run(30, cmd.toArray(new String[0]));
        if (r.status() != 0) {
            throw new AssertionError("useradd: " + r.output());
        }
        int uid = Integer.parseInt(Commands.run(30, "id", "-u", user).output().trim());
        return new TestUsers(user, groups, uid, gids);
    }

    private static void remove(String user, String prefix, int groupCount) throws Exception {
        Commands.run(30, "userdel", user);
        for (int i = 1; i <= groupCount; i++) {
            Commands.run(30, "groupdel", prefix + i);
        }
    }

    @Override
    public void close() throws Exception {
        remove(user, groups.isEmpty() ? "" : groups.get(0).replaceAll("1$", ""), groups.size());
    }
}
