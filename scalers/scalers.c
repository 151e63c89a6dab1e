/* scalers.c - the table of compiled-in scalers, generated from scalers.def. */
#include <stdbool.h>
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

int em_scaler_check(const struct em_scaler *sc, struct em_err *err)
{
	bool batch = sc->flags & EM_SCALER_BATCH, computed = sc->flags & EM_SCALER_COMPUTED;

	if (!sc->type || !sc->options || !sc->open || !sc->close)
		return em_err_set(err, EM_E_INTERNAL, "scaler %s: type, options, open and close are required",
				  sc->type ? sc->type : "?");
	if (computed != (sc->input || sc->compute) ||
	    (computed && (batch || !sc->input || !sc->compute || sc->fetch || sc->batch_key || sc->fetch_batch)))
		return em_err_set(err, EM_E_INTERNAL, "scaler %s: EM_SCALER_COMPUTED goes with input and compute, "
				  "and without fetch or batching", sc->type);
	if (computed)
		return 0;
	if (batch && (!sc->batch_key || !sc->fetch_batch))
		return em_err_set(err, EM_E_INTERNAL, "scaler %s: EM_SCALER_BATCH needs batch_key and fetch_batch",
				  sc->type);
	if (!batch && (!sc->fetch || sc->batch_key || sc->fetch_batch))
		return em_err_set(err, EM_E_INTERNAL, "scaler %s: fetch is required, and batch_key and fetch_batch "
				  "go with EM_SCALER_BATCH", sc->type);
	return 0;
}

/* A hook several scalers share (the same function) runs once: true when
 * an earlier scaler of the table has the same init (or cleanup) hook. */
static bool hook_seen(size_t i, bool cleanup)
{
	for (size_t j = 0; j < i; j++)
		if (cleanup ? all[j]->global_cleanup == all[i]->global_cleanup
			    : all[j]->global_init == all[i]->global_init)
			return true;
	return false;
}

static bool inited;

int em_scalers_init(struct em_err *err)
{
	if (inited)
		return 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (em_scaler_check(all[i], err) != 0)
			return -1;
		if (!all[i]->global_init || hook_seen(i, false))
			continue;
		if (all[i]->global_init(err) != 0) {
			em_err_prefix(err, "scaler %s", all[i]->type);
			return -1;
		}
	}
	inited = true;
	return 0;
}

void em_scalers_cleanup(void)
{
	if (!inited)
		return;
	for (size_t i = sizeof(all) / sizeof(all[0]); i-- > 0;)
		if (all[i]->global_cleanup && !hook_seen(i, true))
			all[i]->global_cleanup();
	inited = false;
}
