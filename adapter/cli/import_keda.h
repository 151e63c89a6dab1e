/* import_keda.h - `extmetrics import-keda`: KEDA ScaledObjects to extmetrics config entries and HPAs. */
#ifndef EM_IMPORT_KEDA_H
#define EM_IMPORT_KEDA_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes of import-keda (and return values of em_keda_translate). */
enum em_keda_rc {
	EM_KEDA_OK = 0,       /* everything translated */
	EM_KEDA_EINPUT = 1,   /* usage, unreadable file, YAML syntax error: nothing written */
	EM_KEDA_PARTIAL = 2,  /* written, but some objects or fields were not translated (stderr) */
	EM_KEDA_NONE = 3,     /* no ScaledObject in the input: nothing written */
};

/* Where secretTargetRef values are read from: DIR/<secret name>/<key>, the
 * Secret copied into the extmetrics namespace and mounted at DIR/<secret name>. */
#define EM_KEDA_SECRETS_DIR "/etc/extmetrics/secrets"

struct em_keda_src {
	const char *name;   /* file name, for messages */
	const char *text;
	size_t len;
};

struct em_keda_opts {
	const char *secrets_dir;   /* NULL: EM_KEDA_SECRETS_DIR */
	bool no_scale_to_zero;     /* minReplicaCount 0 becomes minReplicas 1 (no HPAScaleToZero gate) */
};

struct em_keda_out {
	char *config;        /* YAML: `metrics:` with one entry per External trigger */
	char *hpa;           /* YAML: autoscaling/v2 HorizontalPodAutoscalers, `---` separated */
	char *diag;          /* one line per problem ("FILE:LINE:COL: KIND NS/NAME: FIELD: ...") or note */
	int n_scaledobjects; /* ScaledObjects seen */
	int n_hpas;          /* HPAs written */
	int n_metrics;       /* config entries written */
	int n_problems;      /* things not translated */
};

/* The pure translation core: reads every document of every source (kind List
 * is unrolled), resolves authenticationRefs against the TriggerAuthentications
 * and ClusterTriggerAuthentications among them, and fills out. Returns an
 * enum em_keda_rc; out is filled (possibly empty strings) unless EM_KEDA_EINPUT
 * with only diag set. Always call em_keda_out_free(). */
int em_keda_translate(const struct em_keda_src *srcs, size_t n, const struct em_keda_opts *opts,
		      struct em_keda_out *out);
void em_keda_out_free(struct em_keda_out *out);   /* NULL-safe */

#endif
