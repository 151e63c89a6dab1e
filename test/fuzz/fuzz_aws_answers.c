/* fuzz_aws_answers.c - libFuzzer target: SQS and CloudWatch answers, AWS error bodies and credential documents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/aws/aws_parse.h"
#include "scalers/aws/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *secrets[] = {"fuzz-session-token-Zq9"};
	struct em_secret_scope scope;
	struct em_sqs_attrs a;
	struct em_cw_result r[4];
	struct em_aws_creds c;
	struct em_err e;
	char code[96], msg[EM_EXCERPT_BUF], *next = NULL;
	int64_t n;

	em_secret_scope_enter(&scope, secrets, 1);
	if (em_sqs_parse_attributes(s, size, &a, &e) == 0) {
		const int64_t v[] = {a.visible, a.in_flight, a.delayed};
		for (int i = 0; i < 3; i++)
			if (v[i] < -1 || v[i] > (int64_t)EM_VALUE_MAX)
				abort();
		for (int k = 0; k < 4; k++)
			if (em_sqs_count(&a, k & 1, k & 2, &n, &e) == 0 && (n < 0 || n > (int64_t)EM_VALUE_MAX))
				abort();
	} else if (!e.msg[0] || strstr(e.msg, secrets[0])) {
		abort();
	}
	memset(r, 0, sizeof(r));
	if (em_cw_parse_page(s, size, r, 4, &next, &e) == 0) {
		for (int i = 0; i < 4; i++)
			if (strstr(r[i].message, secrets[0]) || (r[i].has_value && !r[i].seen))
				abort();
	} else if (next || strstr(e.msg, secrets[0])) {
		abort();
	}
	free(next);
	em_aws_parse_error(400, s, size, NULL, code, sizeof(code), msg, sizeof(msg));
	if (strstr(code, secrets[0]) || strstr(msg, secrets[0]))
		abort();
	if (em_aws_parse_creds_json(s, size, &c, &e) == 0)
		em_aws_creds_wipe(&c);
	else if (strstr(e.msg, secrets[0]))
		abort();
	em_secret_scope_leave(&scope);
	return 0;
}
