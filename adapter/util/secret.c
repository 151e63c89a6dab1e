/* secret.c - wiping secrets (tokens, keys, credential documents) before their memory is freed. */
#include "secret.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void em_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void em_free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
