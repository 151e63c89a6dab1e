/* test_import_keda.c - KEDA ScaledObject translation: targets, defaults, behavior, fallback, auth, problems. */
#include "harness.h"

#include <stdbool.h>
#include <unistd.h>
#include <yaml.h>

#include "adapter/cli/cli.h"
#include "adapter/cli/import_keda.h"

/* ---- reading the output back with libyaml, by a space-separated path ---- */

/* Returns the scalar at `path` (keys and sequence indexes separated by spaces)
 * in document number docno of text, malloc'd, or NULL when absent. */
static char *yget(const char *text, int docno, const char *path)
{
	yaml_parser_t p;
	yaml_document_t d;
	char *res = NULL;
	int i = 0;

	if (!text || !yaml_parser_initialize(&p))
		return NULL;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_node_t *n;
		char buf[512], *save = NULL, *tok;
		if (!yaml_parser_load(&p, &d)) {
			printf("#   output is not valid YAML: %s\n", p.problem ? p.problem : "?");
			break;
		}
		n = yaml_document_get_root_node(&d);
		if (!n) {
			yaml_document_delete(&d);
			break;
		}
		if (i++ != docno) {
			yaml_document_delete(&d);
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", path);
		for (tok = strtok_r(buf, " ", &save); tok && n; tok = strtok_r(NULL, " ", &save)) {
			yaml_node_t *next = NULL;
			if (n->type == YAML_MAPPING_NODE) {
				for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
					yaml_node_t *k = yaml_document_get_node(&d, pr->key);
					if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, tok) == 0)
						next = yaml_document_get_node(&d, pr->value);
				}
			} else if (n->type == YAML_SEQUENCE_NODE) {
				long idx = strtol(tok, NULL, 10);
				if (idx >= 0 && idx < n->data.sequence.items.top - n->data.sequence.items.start)
					next = yaml_document_get_node(&d, n->data.sequence.items.start[idx]);
			}
			n = next;
		}
		if (n && n->type == YAML_SCALAR_NODE)
			res = strdup((char *)n->data.scalar.value);
		else if (n)
			res = strdup(n->type == YAML_MAPPING_NODE ? "<map>" : "<seq>");
		yaml_document_delete(&d);
		break;
	}
	yaml_parser_delete(&p);
	return res;
}

/* EXPECT that the value at path equals want (NULL: absent). */
#define EXPECT_Y(text, doc, path, want)                                                  \
	do {                                                                             \
		char *th_v = yget((text), (doc), (path));                               \
		const char *th_w = (want);                                               \
		if (th_w ? (!th_v || strcmp(th_v, th_w) != 0) : th_v != NULL)            \
			TH_FAIL("%s [%s] == %s, expected %s", #text, path, th_v ? th_v : "(absent)", \
				th_w ? th_w : "(absent)");                               \
		free(th_v);                                                              \
	} while (0)

static int run(const char *yaml, struct em_keda_out *out, const struct em_keda_opts *opts)
{
	struct em_keda_src src = {.name = "in.yaml", .text = yaml, .len = strlen(yaml)};

	return em_keda_translate(&src, 1, opts, out);
}

#define SO_HEAD(name, ns)                                                        \
	"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: " name \
	"\n  namespace: " ns "\nspec:\n  scaleTargetRef:\n    name: app\n"

/* A valid SQS trigger's metadata. */
#define SQS_MD "{queueURL: 'https://sqs.us-east-1.amazonaws.com/1/q', awsRegion: us-east-1}"
#define SQS_TRIG "  - type: aws-sqs-queue\n    metadata: " SQS_MD "\n"

/* ---- cases ---- */

TEST(defaults_and_sqs_target)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("q", "ns1") "  triggers:\n  - type: aws-sqs-queue\n    metadata:\n"
				   "      queueURL: https://sqs.us-east-1.amazonaws.com/1/q\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_INT(o.n_hpas, 1);
	EXPECT_INT(o.n_metrics, 1);
	EXPECT_Y(o.hpa, 0, "apiVersion", "autoscaling/v2");
	EXPECT_Y(o.hpa, 0, "kind", "HorizontalPodAutoscaler");
	EXPECT_Y(o.hpa, 0, "metadata name", "q");
	EXPECT_Y(o.hpa, 0, "metadata namespace", "ns1");
	EXPECT_Y(o.hpa, 0, "spec scaleTargetRef apiVersion", "apps/v1");
	EXPECT_Y(o.hpa, 0, "spec scaleTargetRef kind", "Deployment");
	EXPECT_Y(o.hpa, 0, "spec scaleTargetRef name", "app");
	EXPECT_Y(o.hpa, 0, "spec minReplicas", "0");    /* KEDA's default minReplicaCount */
	EXPECT_Y(o.hpa, 0, "spec maxReplicas", "100");  /* KEDA's default maxReplicaCount */
	EXPECT_Y(o.hpa, 0, "spec metrics 0 type", "External");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external metric name", "q-aws-sqs-queue");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external metric selector matchLabels scaledobject.keda.sh/name", "q");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external target type", "AverageValue");
	/* queueLength's default, from the scaler's option table */
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external target averageValue", "5");
	EXPECT_Y(o.hpa, 0, "spec behavior", NULL);
	EXPECT_Y(o.config, 0, "metrics 0 name", "q-aws-sqs-queue");
	EXPECT_Y(o.config, 0, "metrics 0 namespaces 0", "ns1");
	EXPECT_Y(o.config, 0, "metrics 0 type", "aws-sqs-queue");
	EXPECT_Y(o.config, 0, "metrics 0 metadata awsRegion", NULL);   /* KEDA needs it; the queue URL has it */
	EXPECT_Y(o.config, 0, "metrics 0 pollingInterval", "30s");
	EXPECT_Y(o.config, 0, "metrics 0 auth", NULL);
	EXPECT(strstr(o.diag, "HPAScaleToZero") != NULL);
	EXPECT_STR(o.secrets, "");
	em_keda_out_free(&o);
	em_keda_out_free(NULL);
}

TEST(target_keys_per_type_and_metric_type)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("t", "ns") "  minReplicaCount: 1\n  maxReplicaCount: 7\n  pollingInterval: 5\n"
					"  triggers:\n"
					"  - type: aws-cloudwatch\n    metricType: Value\n    metadata: {namespace: AWS/SQS, "
					"metricName: M, dimensionName: QueueName, dimensionValue: q, targetMetricValue: '2.5', "
					"minMetricValue: '0', awsRegion: eu-west-1}\n"
					"  - type: prometheus\n    metadata: {serverAddress: 'http://p:9090', query: 'up', "
					"threshold: '0.25', metricName: legacy}\n"
					"  - type: postgresql\n    metricType: AverageValue\n    metadata: {connection: 'host=x', "
					"query: 'select 1', targetQueryValue: '1500'}\n"
					"  - type: cron\n    metadata: {timezone: UTC, start: '0 8 * * *', end: '0 9 * * *', "
					"desiredReplicas: '4'}\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_INT(o.n_metrics, 4);
	EXPECT_Y(o.hpa, 0, "spec minReplicas", "1");
	EXPECT_Y(o.hpa, 0, "spec maxReplicas", "7");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external metric name", "t-aws-cloudwatch-0");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external target type", "Value");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 external target value", "2500m");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 external target averageValue", "250m");
	EXPECT_Y(o.hpa, 0, "spec metrics 2 external target averageValue", "1500");
	EXPECT_Y(o.hpa, 0, "spec metrics 3 external metric name", "t-cron-3");
	EXPECT_Y(o.hpa, 0, "spec metrics 3 external target type", "AverageValue");
	EXPECT_Y(o.hpa, 0, "spec metrics 3 external target averageValue", "1");   /* cron's fixed target */
	EXPECT_Y(o.config, 0, "metrics 0 metadata metricName", "M");   /* CloudWatch's own key */
	EXPECT_Y(o.config, 0, "metrics 1 metadata metricName", NULL);  /* KEDA ignores it for prometheus */
	EXPECT_Y(o.config, 0, "metrics 1 metadata threshold", "0.25");
	EXPECT_Y(o.config, 0, "metrics 3 metadata desiredReplicas", "4");
	EXPECT_Y(o.config, 0, "metrics 2 pollingInterval", "5s");
	em_keda_out_free(&o);
}

/* redis lists: listLength (default 5); mysql: queryValue (required); streams: the
 * key of the scale factor KEDA picks, with its defaults. */
TEST(redis_mysql_and_stream_targets)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("r", "ns") "  triggers:\n"
				  "  - type: redis\n    metadata: {address: 'redis:6379', listName: q}\n"
				  "  - type: redis-cluster\n    metadata: {addresses: 'a:1,b:2', listName: q, listLength: '12'}\n"
				  "  - type: redis-sentinel\n    metadata: {addresses: 's:26379', listName: q, sentinelMaster: m, "
				  "listLength: '3'}\n"
				  "  - type: mysql\n    metadata: {query: 'select 1', queryValue: '2.5', host: db, username: u}\n"
				  "  - type: redis-streams\n    metadata: {address: 'r:1', stream: s}\n"
				  "  - type: redis-streams\n    metadata: {address: 'r:1', stream: s, streamLength: '30', "
				  "pendingEntriesCount: '9'}\n"
				  "  - type: redis-cluster-streams\n    metadata: {addresses: 'r:1', stream: s, consumerGroup: g}\n"
				  "  - type: redis-sentinel-streams\n    metadata: {addresses: 'r:1', stream: s, sentinelMaster: m, "
				  "consumerGroup: g, pendingEntriesCount: '7', lagCount: '0'}\n"
				  "  - type: redis-streams\n    metadata: {address: 'r:1', stream: s, consumerGroup: g, "
				  "pendingEntriesCount: '7', lagCount: '40'}\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_INT(o.n_metrics, 9);
	/* listLength default and given; queryValue; streams: streamLength default and given without a
	 * group, pendingEntriesCount default, lagCount "0" (KEDA's "not given": pending), lagCount */
	{
		static const char *const want[] = {"5", "12", "3", "2500m", "5", "30", "5", "7", "40"};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			char path[64];
			snprintf(path, sizeof(path), "spec metrics %zu external target averageValue", i);
			EXPECT_Y(o.hpa, 0, path, want[i]);
		}
	}
	EXPECT_Y(o.config, 0, "metrics 3 type", "mysql");
	EXPECT_Y(o.config, 0, "metrics 8 metadata lagCount", "40");
	em_keda_out_free(&o);

	rc = run(SO_HEAD("m", "ns") "  triggers:\n  - type: mysql\n    metadata: {query: 'select 1', host: db}\n",
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.triggers[0].metadata: not translated: missing required parameter \"queryValue\"") !=
	       NULL);
	em_keda_out_free(&o);

	/* the addresses in a Secret under KEDA's second name (not mounted here): still loads */
	rc = run("apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ra, namespace: ns}\n"
		 "spec:\n  secretTargetRef:\n  - {parameter: addresses, name: redis-conn, key: addrs}\n---\n"
		 SO_HEAD("c", "ns") "  triggers:\n  - type: redis-cluster\n    authenticationRef: {name: ra}\n"
		 "    metadata: {listName: q}\n",
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.config, 0, "metrics 0 auth params addresses fromFile", "/etc/extmetrics/secrets/ns/redis-conn/addrs");
	em_keda_out_free(&o);
}

/* Each of these ScaledObjects is refused with its reason; the good one is written. */
TEST(a_trigger_that_cannot_be_carried_over_refuses_its_scaledobject)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("a", "ns") "  minReplicaCount: 1\n  triggers:\n"
					"  - type: prometheus\n    metadata: {serverAddress: 'http://p', query: up}\n" SQS_TRIG
		     "---\n" SO_HEAD("b", "ns") "  minReplicaCount: 1\n  triggers:\n"
					"  - type: postgresql\n    metadata: {query: q, targetQueryValue: '-3'}\n"
		     "---\n" SO_HEAD("c", "ns") "  minReplicaCount: 1\n  triggers:\n"
					"  - type: aws-cloudwatch\n    metricType: Utilization\n    metadata: {targetMetricValue: '1'}\n"
		     "---\n" SO_HEAD("d", "ns") "  minReplicaCount: 1\n  triggers:\n"
					"  - type: aws-sqs-queue\n    metadata: {queueURL: 'https://sqs.us-east-1.amazonaws.com/1/q', "
					"queueLenght: '7'}\n"
		     "---\n" SO_HEAD("e", "ns") "  minReplicaCount: 1\n  triggers:\n" SQS_TRIG,
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT_INT(o.n_refused, 4);
	EXPECT_INT(o.n_hpas, 1);
	EXPECT_INT(o.n_metrics, 1);
	EXPECT(strstr(o.diag, "ScaledObject ns/a: spec.triggers[0].metadata: not translated: missing required "
			      "parameter \"threshold\"") != NULL);
	/* line:col of the offending node, and the summary of the refusal */
	EXPECT(strstr(o.diag, "in.yaml:12:15: ScaledObject ns/a: spec.triggers[0].metadata:") != NULL);
	EXPECT(strstr(o.diag, "in.yaml:1:1: ScaledObject ns/a: refused: no HPA and no metrics written for it (1 reason "
			      "above)") != NULL);
	EXPECT(strstr(o.diag, "spec.triggers[0].metadata.targetQueryValue: not translated: \"-3\" is not a positive "
			      "number") != NULL);
	EXPECT(strstr(o.diag, "spec.triggers[0].metricType: not translated: \"Utilization\"") != NULL);
	/* what the config loader refuses, as check-config says it (KEDA ignores unknown keys) */
	EXPECT(strstr(o.diag, "ScaledObject ns/d: spec.triggers[0].metadata: not translated: extmetrics would refuse "
			      "it: queueLenght: unknown parameter \"queueLenght\" (did you mean \"queueLength\"?)") != NULL);
	EXPECT_Y(o.hpa, 0, "metadata name", "e");
	EXPECT_Y(o.config, 0, "metrics 0 name", "e-aws-sqs-queue");
	EXPECT_Y(o.config, 0, "metrics 1", NULL);
	/* the names of a refused ScaledObject are taken back: a-aws-sqs-queue-1 was never written */
	EXPECT(strstr(o.config, "a-aws-sqs-queue") == NULL);
	em_keda_out_free(&o);
}

TEST(behavior_verbatim_and_cooldown)
{
	struct em_keda_out o;
	int rc;

	/* cooldownPeriod with scale to zero: the scale-down window. */
	rc = run(SO_HEAD("a", "ns") "  cooldownPeriod: 120\n  triggers:\n" SQS_TRIG, &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "spec behavior scaleDown stabilizationWindowSeconds", "120");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp", NULL);
	em_keda_out_free(&o);

	/* With a minimum above 0 KEDA never uses it: left out, with a note. */
	rc = run(SO_HEAD("a", "ns") "  minReplicaCount: 1\n  cooldownPeriod: 120\n  triggers:\n" SQS_TRIG, &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "spec behavior", NULL);
	EXPECT(strstr(o.diag, "spec.cooldownPeriod: ignored: KEDA uses it only to scale to 0") != NULL);
	em_keda_out_free(&o);

	/* behavior copied as is (numbers stay numbers), cooldown added to a scaleDown without a window. */
	rc = run(SO_HEAD("b", "ns") "  cooldownPeriod: 90\n  advanced:\n"
				    "    horizontalPodAutoscalerConfig:\n      name: custom-hpa\n      behavior:\n"
				    "        scaleUp:\n          stabilizationWindowSeconds: 0\n          selectPolicy: Max\n"
				    "          policies:\n          - {type: Percent, value: 100, periodSeconds: 15}\n"
				    "          - type: Pods\n            value: 4\n            periodSeconds: 15\n"
				    "        scaleDown:\n          policies:\n          - {type: Percent, value: 50, periodSeconds: 60}\n"
				    "  triggers:\n" SQS_TRIG,
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "metadata name", "custom-hpa");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp stabilizationWindowSeconds", "0");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp selectPolicy", "Max");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp policies 0 type", "Percent");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp policies 1 type", "Pods");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp policies 1 value", "4");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleUp policies 1 periodSeconds", "15");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleDown policies 0 value", "50");
	EXPECT_Y(o.hpa, 0, "spec behavior scaleDown stabilizationWindowSeconds", "90");
	EXPECT(strstr(o.hpa, "value: 100\n") != NULL);   /* plain, so still an integer */
	em_keda_out_free(&o);

	/* An explicit window wins over cooldownPeriod, with a note. */
	rc = run(SO_HEAD("c", "ns") "  cooldownPeriod: 120\n  advanced:\n"
				    "    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleDown:\n"
				    "          stabilizationWindowSeconds: 60\n  triggers:\n" SQS_TRIG,
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "spec behavior scaleDown stabilizationWindowSeconds", "60");
	EXPECT(strstr(o.diag, "note: ScaledObject ns/c: spec.cooldownPeriod: 120s not used") != NULL);
	em_keda_out_free(&o);

	/* Longer than the HPA allows: refused. */
	rc = run(SO_HEAD("d", "ns") "  cooldownPeriod: 7200\n  triggers:\n" SQS_TRIG, &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT_INT(o.n_hpas, 0);
	EXPECT(strstr(o.diag, "spec.cooldownPeriod: not translated: 7200s exceeds") != NULL);
	em_keda_out_free(&o);
}

TEST(fallback)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("f", "ns") "  minReplicaCount: 1\n  fallback: {failureThreshold: 3, replicas: 4}\n"
					"  triggers:\n"
					"  - type: aws-sqs-queue\n    metadata: {queueURL: 'https://sqs.us-east-1.amazonaws.com/1/q', "
					"queueLength: '10'}\n"
					"  - type: prometheus\n    metadata: {serverAddress: 'http://s', query: q, threshold: '2.5'}\n",
		     &o, NULL);

	/* KEDA serves replicas x target, so the HPA lands on `replicas`. */
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.config, 0, "metrics 0 fallback failureThreshold", "3");
	EXPECT_Y(o.config, 0, "metrics 0 fallback value", "40");
	EXPECT_Y(o.config, 0, "metrics 1 fallback value", "10");
	em_keda_out_free(&o);

	/* metricType Value: KEDA divides by the ready pods, which an HPA cannot */
	rc = run(SO_HEAD("v", "ns") "  minReplicaCount: 1\n  fallback: {failureThreshold: 3, replicas: 4}\n"
				    "  triggers:\n  - type: prometheus\n    metricType: Value\n    metadata: {serverAddress: "
				    "'http://s', query: q, threshold: '7'}\n",
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.fallback: not translated: trigger v-prometheus has metricType Value") != NULL);
	em_keda_out_free(&o);

	rc = run(SO_HEAD("g", "ns") "  minReplicaCount: 1\n  fallback: {failureThreshold: 3, replicas: 4, behavior: "
				    "currentReplicasIfHigher}\n  triggers:\n" SQS_TRIG,
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.fallback.behavior: not translated: \"currentReplicasIfHigher\"") != NULL);
	EXPECT_INT(o.n_hpas, 0);
	em_keda_out_free(&o);
}

TEST(auth_sources_and_secret_paths)
{
	struct em_keda_opts opts = {.secrets_dir = "/mnt/s", .keda_namespace = "keda-system"};
	struct em_keda_out o;
	int rc = run("apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ta, namespace: ns}\n"
		     "spec:\n  secretTargetRef:\n  - {parameter: password, name: pg, key: pw}\n"
		     "  - {parameter: apiKey, name: pg, key: other}\n"
		     "  env:\n  - {parameter: userName, name: PG_USER, containerName: app}\n"
		     "---\n"
		     "apiVersion: keda.sh/v1alpha1\nkind: ClusterTriggerAuthentication\nmetadata: {name: aws}\n"
		     "spec:\n  podIdentity: {provider: aws, roleArn: 'arn:aws:iam::1:role/r', externalID: x1}\n"
		     "  secretTargetRef:\n  - {parameter: awsSessionToken, name: tok, key: t}\n"
		     "---\n"
		     "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ta, namespace: other}\n"
		     "spec:\n  env:\n  - {parameter: password, name: WRONG_NAMESPACE}\n"
		     "---\n" SO_HEAD("a", "ns") "  minReplicaCount: 1\n  triggers:\n"
		     "  - type: postgresql\n    authenticationRef: {name: ta}\n    metadata: {host: h, port: '5432', "
		     "dbName: d, sslmode: disable, query: q, targetQueryValue: '5'}\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: aws, kind: ClusterTriggerAuthentication}\n"
		     "    metadata: " SQS_MD "\n",
		     &o, &opts);

	EXPECT_INT(rc, EM_KEDA_OK);
	/* paths carry the Secret's namespace; a ClusterTriggerAuthentication's is KEDA's */
	EXPECT_Y(o.config, 0, "metrics 0 auth params password fromFile", "/mnt/s/ns/pg/pw");
	EXPECT_Y(o.config, 0, "metrics 0 auth params userName fromEnv", "PG_USER");
	EXPECT_Y(o.config, 0, "metrics 0 auth params apiKey", NULL);   /* postgresql does not read it: KEDA ignores it */
	EXPECT(strstr(o.diag, "parameter apiKey dropped: postgresql does not read it") != NULL);
	EXPECT_Y(o.config, 0, "metrics 0 auth podIdentity", NULL);
	EXPECT_Y(o.config, 0, "metrics 1 auth podIdentity", "aws");
	EXPECT_Y(o.config, 0, "metrics 1 auth roleArn", "arn:aws:iam::1:role/r");
	EXPECT_Y(o.config, 0, "metrics 1 auth externalID", "x1");
	EXPECT_Y(o.config, 0, "metrics 1 auth params awsSessionToken fromFile", "/mnt/s/keda-system/tok/t");
	EXPECT(strstr(o.config, "#   ns/pg key pw\n") != NULL);
	EXPECT(strstr(o.diag, "PG_USER is read from the extmetrics container's environment") != NULL);
	EXPECT(strstr(o.config, "WRONG_NAMESPACE") == NULL);
	/* how to bring the Secrets across: the copy commands and the Deployment patch */
	EXPECT(strstr(o.secrets, "#   kubectl get secret pg -n ns -o go-template='{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
				 "\"type\":\"Opaque\",\"metadata\":{\"name\":\"ns.pg\",\"namespace\":\"extmetrics\"},"
				 "\"data\":{\"pw\":\"{{index .data \"pw\"}}\"}}' | kubectl apply -f -\n") != NULL);
	EXPECT_Y(o.secrets, 0, "kind", "Deployment");
	EXPECT_Y(o.secrets, 0, "spec template spec containers 0 name", "extmetrics");
	EXPECT_Y(o.secrets, 0, "spec template spec containers 0 volumeMounts 0 mountPath", "/mnt/s/keda-system/tok");
	EXPECT_Y(o.secrets, 0, "spec template spec containers 0 volumeMounts 1 mountPath", "/mnt/s/ns/pg");
	EXPECT_Y(o.secrets, 0, "spec template spec volumes 1 secret secretName", "ns.pg");
	em_keda_out_free(&o);
}

/* Two teams' prometheus-secret never share a file. */
TEST(same_named_secrets_in_two_namespaces)
{
	struct em_keda_out o;
	static const char ta[] = "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: p, "
				 "namespace: %s}\nspec:\n  secretTargetRef:\n  - {parameter: bearerToken, name: "
				 "prometheus-secret, key: token}\n---\n" SO_HEAD("w", "%s") "  minReplicaCount: 1\n"
				 "  triggers:\n  - type: prometheus\n    authenticationRef: {name: p}\n    metadata: "
				 "{serverAddress: 'http://p', query: up, threshold: '1', authModes: bearer}\n";
	char text[4096];
	int n = snprintf(text, sizeof(text), ta, "team-a", "team-a");

	snprintf(text + n, sizeof(text) - (size_t)n, "---\n");
	n += 4;
	snprintf(text + n, sizeof(text) - (size_t)n, ta, "team-b", "team-b");
	EXPECT_INT(run(text, &o, NULL), EM_KEDA_OK);
	EXPECT_Y(o.config, 0, "metrics 0 auth params bearerToken fromFile",
		 "/etc/extmetrics/secrets/team-a/prometheus-secret/token");
	EXPECT_Y(o.config, 0, "metrics 1 auth params bearerToken fromFile",
		 "/etc/extmetrics/secrets/team-b/prometheus-secret/token");
	EXPECT_Y(o.secrets, 0, "spec template spec volumes 0 secret secretName", "team-a.prometheus-secret");
	EXPECT_Y(o.secrets, 0, "spec template spec volumes 1 secret secretName", "team-b.prometheus-secret");
	em_keda_out_free(&o);
}

TEST(pod_identity_variants_and_unsupported_sources)
{
	struct em_keda_out o;
	int rc = run("kind: TriggerAuthentication\nmetadata: {name: w, namespace: ns}\n"
		     "spec: {podIdentity: {provider: aws, identityOwner: workload}}\n---\n"
		     "kind: TriggerAuthentication\nmetadata: {name: g, namespace: ns}\n"
		     "spec: {podIdentity: {provider: gcp}}\n---\n"
		     "kind: TriggerAuthentication\nmetadata: {name: v, namespace: ns}\n"
		     "spec: {hashiCorpVault: {address: 'https://vault'}}\n---\n"
		     "kind: TriggerAuthentication\nmetadata: {name: e, namespace: ns}\n"
		     "spec: {podIdentity: {provider: aws-eks}}\n---\n"
		     SO_HEAD("p", "ns") "  minReplicaCount: 1\n  triggers:\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: w}\n    metadata: " SQS_MD "\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: g}\n    metadata: " SQS_MD "\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: v}\n    metadata: " SQS_MD "\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: v}\n    metadata: " SQS_MD "\n"
		     "  - type: aws-sqs-queue\n    authenticationRef: {name: e}\n    metadata: " SQS_MD "\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.triggers[0].authenticationRef: not translated: TriggerAuthentication w: "
			      "identityOwner workload") != NULL);
	EXPECT(strstr(o.diag, "spec.triggers[1].authenticationRef: not translated: TriggerAuthentication g: "
			      "podIdentity provider \"gcp\" is not supported") != NULL);
	/* an unsupported source is reported on every trigger that uses it */
	EXPECT(strstr(o.diag, "spec.triggers[2].authenticationRef: not translated: TriggerAuthentication v takes "
			      "parameters from hashiCorpVault") != NULL);
	EXPECT(strstr(o.diag, "spec.triggers[3].authenticationRef: not translated: TriggerAuthentication v takes "
			      "parameters from hashiCorpVault") != NULL);
	EXPECT(strstr(o.diag, "spec.triggers[4].authenticationRef: not translated: TriggerAuthentication e: "
			      "podIdentity aws-eks") != NULL);
	EXPECT_INT(o.n_problems, 5);
	EXPECT_INT(o.n_hpas, 0);
	em_keda_out_free(&o);
}

TEST(scaling_modifiers_become_a_composite_metric)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("m", "ns") "  minReplicaCount: 1\n  fallback: {failureThreshold: 2, replicas: 3}\n"
					"  advanced:\n    scalingModifiers:\n      formula: \"count([queue, load], {# > 5}) > 1 ? "
					"max(queue, load) : queue\"\n      target: '4'\n      activationTarget: '1'\n"
					"  triggers:\n"
					"  - type: aws-sqs-queue\n    name: queue\n    metadata: " SQS_MD "\n"
					"  - type: prometheus\n    name: load\n    metadata: {serverAddress: 'http://p', "
					"query: up, threshold: '1'}\n"
					"  - type: cron\n    name: unused\n    metadata: {timezone: UTC, start: '0 8 * * *', "
					"end: '0 9 * * *', desiredReplicas: '4'}\n"
					"  - type: cpu\n    metricType: Utilization\n    metadata: {value: '60'}\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_INT(o.n_metrics, 3);
	EXPECT_Y(o.config, 0, "metrics 0 name", "m-queue");
	EXPECT_Y(o.config, 0, "metrics 0 fallback", NULL);    /* the composite falls back, as in KEDA */
	EXPECT_Y(o.config, 0, "metrics 1 name", "m-load");
	EXPECT_Y(o.config, 0, "metrics 2 name", "m-composite");
	EXPECT_Y(o.config, 0, "metrics 2 type", "composite");
	EXPECT_Y(o.config, 0, "metrics 2 metadata formula", "count([queue, load], {# > 5}) > 1 ? max(queue, load) : queue");
	EXPECT_Y(o.config, 0, "metrics 2 metadata inputs", "queue=m-queue,load=m-load");
	EXPECT_Y(o.config, 0, "metrics 2 metadata activationTarget", "1");
	EXPECT_Y(o.config, 0, "metrics 2 fallback value", "12");   /* replicas x scalingModifiers.target */
	EXPECT_Y(o.hpa, 0, "spec metrics 0 type", "Resource");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 external metric name", "m-composite");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 external target averageValue", "4");
	EXPECT_Y(o.hpa, 0, "spec metrics 2", NULL);   /* the inputs are not in the HPA */
	EXPECT(strstr(o.diag, "spec.triggers[2]: not read by the formula: not carried over") != NULL);
	em_keda_out_free(&o);

	/* current_replicas is not a trigger value: KEDA rejects it, and so the ScaledObject is refused */
	rc = run(SO_HEAD("r", "ns") "  advanced:\n    scalingModifiers:\n      formula: \"ceil(current_replicas * 1.5)\"\n"
				    "      target: '1'\n  triggers:\n  - type: aws-sqs-queue\n    name: q\n    metadata: "
				    SQS_MD "\n",
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.advanced.scalingModifiers.formula: not translated: current_replicas is not a trigger "
			      "value: KEDA's formula sees only the values of named triggers, so KEDA rejects this "
			      "ScaledObject") != NULL);
	EXPECT_INT(o.n_hpas, 0);
	em_keda_out_free(&o);

	/* KEDA's own checks */
	rc = run(SO_HEAD("s", "ns") "  advanced:\n    scalingModifiers: {formula: 'q * 2'}\n  triggers:\n"
				    "  - type: aws-sqs-queue\n    name: q\n    metadata: " SQS_MD "\n"
		 "---\n" SO_HEAD("t", "ns") "  advanced:\n    scalingModifiers: {formula: 'q +', target: '2'}\n"
				    "  triggers:\n  - type: aws-sqs-queue\n    name: q\n    metadata: " SQS_MD "\n"
		 "---\n" SO_HEAD("u", "ns") "  advanced:\n    scalingModifiers: {formula: 'q', target: '2', "
				    "metricType: Utilization}\n  triggers:\n  - type: aws-sqs-queue\n    name: q\n"
				    "    metadata: " SQS_MD "\n",
		 &o, NULL);
	EXPECT_INT(o.n_refused, 3);
	EXPECT(strstr(o.diag, "scalingModifiers.target: not translated: missing (KEDA: formula is given but target is "
			      "empty)") != NULL);
	EXPECT(strstr(o.diag, "scalingModifiers.formula: not translated: unexpected end of formula at column 4") != NULL);
	EXPECT(strstr(o.diag, "scalingModifiers.metricType: not translated: \"Utilization\"") != NULL);
	em_keda_out_free(&o);
}

TEST(activation_and_idle_replicas)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("a", "ns") "  minReplicaCount: 2\n  triggers:\n"
					"  - type: prometheus\n    metadata: {serverAddress: 'http://p', query: up, threshold: '5', "
					"activationThreshold: '10'}\n"
		     "---\n" SO_HEAD("b", "ns") "  idleReplicaCount: 0\n  minReplicaCount: 1\n  triggers:\n"
					"  - type: prometheus\n    metadata: {serverAddress: 'http://p', query: up, threshold: '5', "
					"activationThreshold: '10'}\n"
		     "---\n" SO_HEAD("c", "ns") "  idleReplicaCount: 1\n  minReplicaCount: 3\n  triggers:\n" SQS_TRIG,
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	/* KEDA's activation decides nothing with a minimum above 0; here it would zero the metric */
	EXPECT_Y(o.config, 0, "metrics 0 metadata activationThreshold", NULL);
	EXPECT(strstr(o.diag, "activationThreshold: dropped: with minReplicaCount 2") != NULL);
	/* idle 0 with minimum 1: minReplicas 0, and activation kept */
	EXPECT_Y(o.hpa, 1, "spec minReplicas", "0");
	EXPECT_Y(o.config, 0, "metrics 1 metadata activationThreshold", "10");
	EXPECT(strstr(o.diag, "ScaledObject ns/c: spec.idleReplicaCount: not translated: an HPA has no idle replica "
			      "count") != NULL);
	EXPECT_INT(o.n_hpas, 2);
	em_keda_out_free(&o);
}

TEST(scaledjobs_and_other_objects)
{
	struct em_keda_out o;
	int rc = run("apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: j, namespace: ns}\nspec: {}\n", &o,
		     NULL);

	EXPECT_INT(rc, EM_KEDA_JOBS);
	EXPECT(strstr(o.diag, "in.yaml:1:1: ScaledJob ns/j: not translated: a ScaledJob starts a Job per event, which no "
			      "HPA can do: keep KEDA's operator for ScaledJobs") != NULL);
	EXPECT(o.config == NULL && o.hpa == NULL);
	em_keda_out_free(&o);

	rc = run("kind: ScaledJob\nmetadata: {name: j, namespace: ns}\nspec: {}\n---\nkind: ConfigMap\nmetadata: {name: "
		 "cm}\n---\n" SO_HEAD("s", "ns") "  minReplicaCount: 1\n  triggers:\n" SQS_TRIG,
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT_INT(o.n_refused, 1);
	EXPECT_INT(o.n_hpas, 1);
	EXPECT(strstr(o.diag, "note: ConfigMap cm: ignored") != NULL);
	em_keda_out_free(&o);
}

TEST(untranslatable_things_refuse_the_scaledobject)
{
	struct em_keda_out o;
	int rc = run("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: m\n  namespace: ns\n"
		     "  annotations: {autoscaling.keda.sh/paused: 'true'}\n"
		     "spec:\n  scaleTargetRef: {name: app}\n  minReplicaCount: 1\n"
		     "  initialCooldownPeriod: 60\n  surprise: 1\n"
		     "  triggers:\n  - type: kafka\n    metadata: {topic: q}\n"
		     "  - type: aws-sqs-queue\n    useCachedMetrics: true\n    metadata: " SQS_MD "\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "in.yaml:6:") && strstr(o.diag, "ScaledObject ns/m: metadata.annotations: not translated: "
							       "autoscaling.keda.sh/paused"));
	EXPECT(strstr(o.diag, "ScaledObject ns/m: spec.initialCooldownPeriod: not translated") != NULL);
	EXPECT(strstr(o.diag, "in.yaml:11:3: ScaledObject ns/m: spec.surprise: not translated") != NULL);
	EXPECT(strstr(o.diag, "ScaledObject ns/m: spec.triggers[0]: not translated: trigger type \"kafka\"") != NULL);
	EXPECT(strstr(o.diag, "ScaledObject ns/m: refused: no HPA and no metrics written for it (4 reasons above)") != NULL);
	EXPECT_INT(o.n_problems, 4);
	EXPECT_INT(o.n_hpas, 0);   /* an HPA on the SQS trigger alone would scale on something else */
	EXPECT_Y(o.config, 0, "metrics", "<seq>");
	EXPECT_Y(o.config, 0, "metrics 0", NULL);
	EXPECT(strstr(o.config, "metrics: []\n") != NULL);
	em_keda_out_free(&o);
}

TEST(resource_triggers_stay_in_the_hpa)
{
	struct em_keda_out o;
	int rc = run(SO_HEAD("r", "ns") "  minReplicaCount: 1\n  triggers:\n"
					"  - type: cpu\n    metricType: Utilization\n    metadata: {value: '60'}\n"
					"  - type: memory\n    metricType: AverageValue\n    metadata: {value: 512Mi, "
					"containerName: app}\n",
		     &o, NULL);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_INT(o.n_metrics, 0);
	EXPECT_Y(o.hpa, 0, "spec minReplicas", "1");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 type", "Resource");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 resource name", "cpu");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 resource target type", "Utilization");
	EXPECT_Y(o.hpa, 0, "spec metrics 0 resource target averageUtilization", "60");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 type", "ContainerResource");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 containerResource container", "app");
	EXPECT_Y(o.hpa, 0, "spec metrics 1 containerResource target averageValue", "512Mi");
	em_keda_out_free(&o);

	/* minReplicas 0 needs an External metric: KEDA refuses that too */
	rc = run(SO_HEAD("r", "ns") "  triggers:\n  - type: cpu\n    metricType: Utilization\n    metadata: {value: '60'}\n",
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.minReplicaCount: not translated: 0 needs an External metric") != NULL);
	em_keda_out_free(&o);
}

TEST(no_scale_to_zero_option)
{
	struct em_keda_opts opts = {.no_scale_to_zero = true};
	struct em_keda_out o;
	int rc = run(SO_HEAD("z", "ns") "  minReplicaCount: 0\n  triggers:\n" SQS_TRIG, &o, &opts);

	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "spec minReplicas", "1");
	EXPECT(strstr(o.hpa, "HPAScaleToZero") == NULL);
	em_keda_out_free(&o);
}

TEST(list_input_names_and_quoting)
{
	struct em_keda_out o;
	/* kubectl get -o yaml output; the same name in two namespaces; a query with quotes and a newline. */
	int rc = run("apiVersion: v1\nkind: List\nitems:\n"
		     "- apiVersion: keda.sh/v1alpha1\n  kind: ScaledObject\n  metadata: {name: w, namespace: a}\n"
		     "  spec:\n    minReplicaCount: 1\n    scaleTargetRef: {name: w}\n    triggers:\n"
		     "    - type: prometheus\n      name: Queue.Depth\n      metadata:\n        serverAddress: http://p\n"
		     "        threshold: '3'\n        query: |\n          sum(q{a=\"x\\\\y\"})\n          # c: 'd'\n"
		     "- apiVersion: keda.sh/v1alpha1\n  kind: ScaledObject\n  metadata: {name: w, namespace: b}\n"
		     "  spec:\n    minReplicaCount: 1\n    scaleTargetRef: {name: w}\n    triggers:\n"
		     "    - type: prometheus\n      name: Queue.Depth\n      metadata: {serverAddress: 'http://p', "
		     "threshold: '3', query: 'up', ignoreNullValues: 'yes'}\n",
		     &o, NULL);

	/* names are lowercase: client-go lowercases them in the HPA controller's request */
	EXPECT_INT(o.n_scaledobjects, 2);
	EXPECT_Y(o.config, 0, "metrics 0 name", "w-queue-depth");
	EXPECT_Y(o.config, 0, "metrics 0 metadata query", "sum(q{a=\"x\\\\y\"})\n# c: 'd'\n");
	/* "yes" is no Go ParseBool spelling: KEDA refuses it, so the second is refused */
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "ignoreNullValues: invalid boolean \"yes\"") != NULL);
	EXPECT_INT(o.n_hpas, 1);
	em_keda_out_free(&o);
}

TEST(input_errors_and_exit_codes)
{
	struct em_keda_out o;
	struct em_keda_src two[2] = {
		{.name = "ok.yaml", .text = "kind: TriggerAuthentication\nmetadata: {name: x}\n"},
		{.name = "broken.yaml", .text = "kind: ScaledObject\nspec: [a, b\nmetadata: {}\n"},
	};
	int rc;

	two[0].len = strlen(two[0].text);
	two[1].len = strlen(two[1].text);
	rc = em_keda_translate(two, 2, NULL, &o);
	EXPECT_INT(rc, EM_KEDA_EINPUT);
	EXPECT(o.diag && strstr(o.diag, "broken.yaml:") != NULL);
	EXPECT(o.config == NULL && o.hpa == NULL);
	em_keda_out_free(&o);

	rc = em_keda_translate(two, 1, NULL, &o);
	EXPECT_INT(rc, EM_KEDA_NONE);
	EXPECT(strstr(o.diag, "no ScaledObject") != NULL);
	em_keda_out_free(&o);

	rc = run(SO_HEAD("n", "ns") "  minReplicaCount: 5\n  maxReplicaCount: 2\n  triggers:\n" SQS_TRIG, &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.minReplicaCount: not translated: 5 exceeds maxReplicaCount 2") != NULL);
	EXPECT_INT(o.n_hpas, 0);
	em_keda_out_free(&o);

	rc = run(SO_HEAD("n", "ns") "  minReplicaCount: two\n  triggers:\n" SQS_TRIG, &o, NULL);
	EXPECT_INT(rc, EM_KEDA_PARTIAL);
	EXPECT(strstr(o.diag, "spec.minReplicaCount: not translated: \"two\" is not an integer") != NULL);
	em_keda_out_free(&o);

	/* Missing namespace: "default", with a note only. */
	rc = run("kind: ScaledObject\nmetadata: {name: nn}\nspec:\n  minReplicaCount: 1\n  scaleTargetRef: {name: a}\n"
		 "  triggers:\n" SQS_TRIG,
		 &o, NULL);
	EXPECT_INT(rc, EM_KEDA_OK);
	EXPECT_Y(o.hpa, 0, "metadata namespace", "default");
	EXPECT(strstr(o.diag, "note: ScaledObject nn: metadata.namespace") != NULL);
	em_keda_out_free(&o);
}

TEST(command_line)
{
	char dir[] = "/tmp/em-ik-XXXXXX";
	char in[300], cfg[300], hpa[300], sec[300];
	FILE *f;

	if (!mkdtemp(dir)) {
		TH_FAIL("mkdtemp");
		return;
	}
	snprintf(in, sizeof(in), "%s/in.yaml", dir);
	snprintf(cfg, sizeof(cfg), "%s/cfg.yaml", dir);
	snprintf(hpa, sizeof(hpa), "%s/hpa.yaml", dir);
	snprintf(sec, sizeof(sec), "%s/sec.yaml", dir);
	f = fopen(in, "w");
	fputs(SO_HEAD("c", "ns") "  minReplicaCount: 1\n  triggers:\n" SQS_TRIG, f);
	fclose(f);
	{
		char *argv[] = {"import-keda", "--out-config", cfg, "--out-hpa", hpa, "--out-secrets", sec, in, NULL};
		EXPECT_INT(em_cmd_import_keda(8, argv), EM_KEDA_OK);
	}
	f = fopen(hpa, "r");
	EXPECT(f != NULL);
	if (f) {
		char buf[4096] = {0};
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		(void)n;
		fclose(f);
		EXPECT_Y(buf, 0, "spec metrics 0 external metric name", "c-aws-sqs-queue");
	}
	EXPECT(access(sec, F_OK) == 0);
	{
		char *argv[] = {"import-keda", NULL};
		char *argv2[] = {"import-keda", "/nonexistent/file.yaml", NULL};
		char *argv3[] = {"import-keda", "--bogus", in, NULL};
		EXPECT_INT(em_cmd_import_keda(1, argv), EM_KEDA_EINPUT);
		EXPECT_INT(em_cmd_import_keda(2, argv2), EM_KEDA_EINPUT);
		EXPECT_INT(em_cmd_import_keda(3, argv3), EM_KEDA_EINPUT);
	}
	remove(in);
	remove(cfg);
	remove(hpa);
	remove(sec);
	rmdir(dir);
}
