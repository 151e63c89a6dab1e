/* secret.h - wiping secrets (tokens, keys, credential documents) before their memory is freed. */
#ifndef EM_SECRET_H
#define EM_SECRET_H

#include <stddef.h>

/* Overwrites the NUL-terminated s and frees it. NULL-safe. */
void em_free_secret(char *s);
/* Overwrites n bytes of p (not optimised away). NULL-safe. */
void em_wipe(void *p, size_t n);

#endif
