/*
 * A C client of RPCTLSSD version 2, built at test time from src/main/x/rpctlssd.x with
 * rpcgen and libtirpc: proof that the daemon speaks the protocol C callers speak.
 *
 * usage: rpctlssd_client HOST tcp|udp null
 *        rpctlssd_client HOST tcp|udp connect|handlerecord|disconnect COOKIE
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rpc/rpc.h>
#include "rpctlssd.h"

int main(int argc, char **argv)
{
	CLIENT *cl;
	struct timeval tv = { 10, 0 };
	uint64_t cookie = 0;

	if (argc < 4 || (strcmp(argv[3], "null") != 0 && argc < 5)) {
		fprintf(stderr, "usage: %s HOST tcp|udp null|connect|handlerecord|disconnect [COOKIE]\n", argv[0]);
		return 64;
	}
	if (argc >= 5)
		cookie = strtoull(argv[4], NULL, 0);
	cl = clnt_create(argv[1], RPCTLSSD, RPCTLSSDVERS, argv[2]);
	if (cl == NULL) {
		clnt_pcreateerror("clnt_create");
		return 3;
	}
	clnt_control(cl, CLSET_TIMEOUT, (char *)&tv);
	if (strcmp(argv[2], "udp") == 0) {
		struct timeval retry = { 2, 0 };
		clnt_control(cl, CLSET_RETRY_TIMEOUT, (char *)&retry);
	}

	if (strcmp(argv[3], "null") == 0) {
		if (rpctlssd_null_2(NULL, cl) == NULL) {
			clnt_perror(cl, "null");
			return 2;
		}
		printf("null ok\n");
	} else if (strcmp(argv[3], "connect") == 0) {
		rpctlssd_connect_arg a = { cookie };
		rpctlssd_connect_res *r = rpctlssd_connect_2(&a, cl);
		u_int i;

		if (r == NULL) {
			clnt_perror(cl, "connect");
			return 2;
		}
		printf("connect ok flags=0x%x uid=%u ngids=%u gids=", r->flags, r->uid, r->gid.gid_len);
		for (i = 0; i < r->gid.gid_len; i++)
			printf("%s%u", i ? "," : "", r->gid.gid_val[i]);
		printf("\n");
	} else if (strcmp(argv[3], "handlerecord") == 0) {
		rpctlssd_handlerecord_arg a = { cookie };
		rpctlssd_handlerecord_res *r = rpctlssd_handlerecord_2(&a, cl);

		if (r == NULL) {
			clnt_perror(cl, "handlerecord");
			return 2;
		}
		printf("handlerecord reterr=%u%s\n", r->reterr,
		    r->reterr == RPCTLSERR_NOSSL ? " (no such connection)" : "");
	} else if (strcmp(argv[3], "disconnect") == 0) {
		rpctlssd_disconnect_arg a = { cookie };
		rpctlssd_disconnect_res *r = rpctlssd_disconnect_2(&a, cl);

		if (r == NULL) {
			clnt_perror(cl, "disconnect");
			return 2;
		}
		printf("disconnect reterr=%u%s\n", r->reterr,
		    r->reterr == RPCTLSERR_NOCLOSE ? " (no such connection)" : "");
	} else {
		fprintf(stderr, "unknown procedure %s\n", argv[3]);
		return 64;
	}
	clnt_destroy(cl);
	return 0;
}
