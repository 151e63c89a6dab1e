/* status.h - metav1.Status bodies and the one mapping from error kinds to HTTP. */
#ifndef EM_STATUS_H
#define EM_STATUS_H

#include "adapter/util/err.h"

int em_status_code(enum em_errkind kind);
const char *em_status_reason(enum em_errkind kind);
/* A metav1.Status JSON body for err (malloc'd). InternalError messages get
 * Kubernetes' "Internal error occurred: " prefix. */
char *em_status_json(const struct em_err *err);

#endif
