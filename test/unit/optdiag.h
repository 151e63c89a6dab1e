/* optdiag.h - for unit tests: an em_optdiag that keeps what it is told, errors and warnings apart. */
#ifndef EM_TEST_OPTDIAG_H
#define EM_TEST_OPTDIAG_H

#include <stdio.h>
#include <string.h>

#include "adapter/options.h"

/* errs and warns hold "key: message" lines, each ending in '\n'; first the first error alone. */
struct th_diag {
	struct em_optdiag d;
	char first[512];
	char errs[4096];
	char warns[4096];
};

static void th_diag_report(void *arg, bool warning, const char *key, const char *msg)
{
	struct th_diag *t = arg;
	char *buf = warning ? t->warns : t->errs;
	size_t n = strlen(buf);

	if (!warning && !t->first[0])
		snprintf(t->first, sizeof(t->first), "%s: %s", key ? key : "-", msg);
	snprintf(buf + n, sizeof(t->errs) - n, "%s: %s\n", key ? key : "-", msg);
}

static inline struct em_optdiag *th_diag_init(struct th_diag *t)
{
	memset(t, 0, sizeof(*t));
	t->d.report = th_diag_report;
	t->d.arg = t;
	return &t->d;
}

#endif
