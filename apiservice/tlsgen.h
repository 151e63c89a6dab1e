/* tlsgen.h - a self-signed serving certificate made in memory at start-up. */
#ifndef EM_TLSGEN_H
#define EM_TLSGEN_H

#include "adapter/util/err.h"

/* Makes an ECDSA P-256 key and a self-signed certificate for localhost,
 * 127.0.0.1 and ::1 (plus the host name), valid for a year. PEM strings are
 * malloc'd; the key is wiped by em_tlsgen_free. */
int em_tlsgen_selfsigned(char **cert_pem, char **key_pem, struct em_err *err);
void em_tlsgen_free_key(char *key_pem);

#endif
