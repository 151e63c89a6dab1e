/* scalers.c - the table of compiled-in scalers, generated from scalers.def. */
#include <stddef.h>
#include <string.h>

#include "scaler.h"

#define X(name) extern const struct em_scaler em_scaler_##name;
#include "scalers.def"
#undef X

static const struct em_scaler *const all[] = {
#define X(name) &em_scaler_##name,
#include "scalers.def"
#undef X
};

const struct em_scaler *em_scaler_find(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->type, type) == 0)
			return all[i];
	return NULL;
}

const struct em_scaler *const *em_scaler_all(size_t *n)
{
	*n = sizeof(all) / sizeof(all[0]);
	return all;
}
