/* import_keda.h - `extmetrics import-keda`: KEDA ScaledObjects to extmetrics config entries and HPAs. */
#ifndef EM_IMPORT_KEDA_H
#define EM_IMPORT_KEDA_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes of import-keda (and return values of em_keda_translate). */
enum em_keda_rc {
	EM_KEDA_OK = 0,       /* every ScaledObject translated; the output loads (check-config --skip-secrets) */
	EM_KEDA_EINPUT = 1,   /* usage, unreadable file, YAML syntax error, or an output that would not load: nothing written */
	EM_KEDA_PARTIAL = 2,  /* written, but some ScaledObjects (or ScaledJobs) were refused: reasons on stderr */
	EM_KEDA_NONE = 3,     /* no ScaledObject or ScaledJob in the input: nothing written */
	EM_KEDA_JOBS = 4,     /* only ScaledJobs, which no HPA can express: nothing written */
};

/* Where Secret values are read from: DIR/<namespace>/<secret name>/<key>,
 * each Secret copied into the extmetrics namespace as <namespace>.<name> and
 * mounted at DIR/<namespace>/<name> (em_keda_out.secrets says how). */
#define EM_KEDA_SECRETS_DIR "/etc/extmetrics/secrets"
/* Where ClusterTriggerAuthentications find their Secrets (KEDA's namespace). */
#define EM_KEDA_NAMESPACE "keda"

struct em_keda_src {
	const char *name;   /* file name, for messages */
	const char *text;
	size_t len;
};

struct em_keda_opts {
	const char *secrets_dir;     /* NULL: EM_KEDA_SECRETS_DIR */
	const char *keda_namespace;  /* NULL: EM_KEDA_NAMESPACE */
	bool no_scale_to_zero;       /* minReplicaCount 0 becomes minReplicas 1 (no HPAScaleToZero gate) */
};

struct em_keda_out {
	char *config;        /* YAML: a `metrics:` section, to append to a config's server: (and defaults:) */
	char *hpa;           /* YAML: autoscaling/v2 HorizontalPodAutoscalers, `---` separated */
	char *secrets;       /* YAML: the commands copying the Secrets (as comments) and the Deployment patch
			      * mounting them; "" when the config reads no Secret */
	char *diag;          /* one line per refusal ("FILE:LINE:COL: KIND NS/NAME: FIELD: not translated: ...") or note */
	int n_scaledobjects; /* ScaledObjects seen */
	int n_hpas;          /* HPAs written */
	int n_metrics;       /* config entries written */
	int n_problems;      /* reasons given for refusals */
	int n_refused;       /* ScaledObjects and ScaledJobs refused */
};

/* The pure translation core: reads every document of every source (kind List
 * is unrolled), resolves authenticationRefs against the TriggerAuthentications
 * and ClusterTriggerAuthentications among them, and fills out. A ScaledObject
 * that cannot be carried over with its meaning gets no HPA and no entries,
 * and diag says why; what is written is first loaded with the config loader
 * (as check-config --skip-secrets). Returns an enum em_keda_rc; out is filled
 * (possibly empty strings) for EM_KEDA_OK and EM_KEDA_PARTIAL. Always call
 * em_keda_out_free(). */
int em_keda_translate(const struct em_keda_src *srcs, size_t n, const struct em_keda_opts *opts,
		      struct em_keda_out *out);
void em_keda_out_free(struct em_keda_out *out);   /* NULL-safe */

#endif
