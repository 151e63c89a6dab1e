/* fuzz_aws.c - libFuzzer target: SigV4 canonical forms and the parsers of AWS answers (untrusted input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/aws/aws_parse.h"
#include "scalers/aws/credentials.h"
#include "scalers/aws/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char code[96], msg[256];
	struct em_aws_creds c;
	struct em_err err;
	int64_t ms;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	free(em_sigv4_canonical_path(s, size));
	free(em_sigv4_canonical_query(s, size));
	em_aws_parse_error(400, s, size, s, code, sizeof(code), msg, sizeof(msg));
	free(em_aws_xml_dup(s, size, "Code"));
	em_aws_parse_time(s, &ms);
	em_aws_http_creds_host_allowed(s);
	if (em_aws_parse_creds_json(s, size, &c, &err) == 0)
		em_aws_creds_wipe(&c);
	if (em_aws_parse_sts_creds(s, size, &c, &err) == 0)
		em_aws_creds_wipe(&c);

	/* the whole signer, with the input as URL and as payload */
	struct em_sigv4_hdr h = {"X-Fuzz", s};
	struct em_sigv4_req r = {.method = "POST", .url = s, .headers = &h, .n_headers = 1, .payload = s,
				 .payload_len = size, .region = "us-east-1", .service = "sqs", .now_s = 1440938160};
	struct em_aws_creds k = {.access_key_id = "AKIDEXAMPLE", .secret_access_key = "secret", .session_token = "t"};
	struct em_sigv4_out out;
	if (em_sigv4_sign(&r, &k, NULL, &out, &err) == 0)
		em_sigv4_out_free(&out);
	free(s);
	return 0;
}
