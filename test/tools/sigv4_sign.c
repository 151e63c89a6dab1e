/* sigv4_sign.c - test driver: signs hex-encoded requests read from stdin with scalers/aws/sigv4.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/aws/sigv4.h"

/*
 * One request per input line, tab-separated fields, each hex-encoded (so any
 * byte can pass): method, url, region, service, unix-seconds, access key,
 * secret, token ("" = none), payload, then name/value pairs of headers.
 * One output line per request: Authorization TAB X-Amz-Date TAB
 * X-Amz-Security-Token (or "-") TAB Host (or "-"), or "ERROR <message>".
 */

#define MAXF 64

static char *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(out);
			return NULL;
		}
		out[i] = (char)v;
	}
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

static int sign_line(char *line)
{
	char *f[MAXF], *save = NULL, *tok;
	size_t nf = 0, lens[MAXF] = {0};
	struct em_sigv4_hdr h[MAXF / 2];
	struct em_sigv4_out out;
	struct em_err err = {0};
	int rc = -1;

	for (tok = strtok_r(line, "\t", &save); tok && nf < MAXF; tok = strtok_r(NULL, "\t", &save))
		f[nf++] = tok;
	/* strtok_r skips empty fields, so empty ones are written as "-" */
	for (size_t i = 0; i < nf; i++) {
		if (strcmp(f[i], "-") == 0)
			f[i][0] = '\0';
		f[i] = unhex(f[i], &lens[i]);
		if (!f[i]) {
			nf = i;
			printf("ERROR bad hex\n");
			goto out;
		}
	}
	if (nf < 9 || (nf - 9) % 2) {
		printf("ERROR expected 9 fields and header pairs, got %zu\n", nf);
		goto out;
	}
	for (size_t i = 9; i + 1 < nf; i += 2)
		h[(i - 9) / 2] = (struct em_sigv4_hdr){f[i], f[i + 1]};
	struct em_sigv4_req req = {
		.method = f[0], .url = f[1], .region = f[2], .service = f[3],
		.now_s = strtoll(f[4], NULL, 10),
		.payload = f[8], .payload_len = lens[8],
		.headers = h, .n_headers = (nf - 9) / 2,
	};
	struct em_aws_creds creds = {.access_key_id = f[5], .secret_access_key = f[6],
				     .session_token = f[7][0] ? f[7] : NULL};
	if (em_sigv4_sign(&req, &creds, NULL, &out, &err) != 0) {
		printf("ERROR %s\n", err.msg);
		goto out;
	}
	const char *tokh = em_sigv4_out_get(&out, "X-Amz-Security-Token");
	const char *host = em_sigv4_out_get(&out, "Host");
	printf("%s\t%s\t%s\t%s\n", em_sigv4_out_get(&out, "Authorization"), em_sigv4_out_get(&out, "X-Amz-Date"),
	       tokh ? tokh : "-", host ? host : "-");
	em_sigv4_out_free(&out);
	rc = 0;
out:
	for (size_t i = 0; i < nf; i++)
		free(f[i]);
	return rc;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int bad = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (sign_line(line) != 0)
			bad = 1;
	}
	free(line);
	return bad;
}
