/* scalers.c - `extmetrics scalers`: every compiled-in scaler's options as a Markdown table (README source). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scalers/scaler.h"
#include "cli.h"
#include "adapter/util/text.h"

static void cell(const char *s)
{
	/* Markdown table cells: escape pipes. */
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else
			putchar(*s);
	}
}

void em_scalerdoc_print(const struct em_scaler *sc)
{
	printf("#### `%s` options\n\n", sc->type);
	if (sc->summary)
		printf("%s\n\n", sc->summary);
	printf("| key | type | default | required | secret | description |\n");
	printf("|---|---|---|---|---|---|\n");
	for (const struct em_option *o = sc->options; o->name; o++) {
		printf("| `%s`", o->name);
		if (o->alias)
			printf(" (`%s`)", o->alias);
		if (o->flags & EM_OPT_IGNORED) {
			printf(" | ignored | - | no | no | ");
			cell(o->help);
			printf(" |\n");
			continue;
		}
		printf(" | %s", em_opt_type_name(o->type));
		if (o->type == EM_OPT_ENUM && o->choices) {
			printf(" (");
			for (const char *const *c = o->choices; *c; c++)
				printf("%s%s", c == o->choices ? "" : ", ", *c);
			printf(")");
		}
		if (o->flags & EM_OPT_BOUNDED)
			printf(" [%g, %g]", o->min, o->max);
		printf(" | %s%s%s | %s | %s | ", o->def ? "`" : "", o->def ? o->def : "-", o->def ? "`" : "",
		       (o->flags & EM_OPT_REQUIRED) ? "yes" : "no", (o->flags & EM_OPT_SECRET) ? "yes" : "no");
		cell(o->help);
		printf(" |\n");
	}
	printf("\n");
}

int em_cmd_scalers(int argc, char **argv)
{
	size_t n;
	const struct em_scaler *const *all = em_scaler_all(&n);
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("usage: extmetrics scalers [TYPE]\n\nPrints the option table of every scaler (or of TYPE) as Markdown.");
		return 0;
	}
	if (argc > 2) {
		fprintf(stderr, "scalers: one TYPE at most\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], all[i]->type) != 0)
			continue;
		em_scalerdoc_print(all[i]);
		if (argc > 1)
			return 0;
	}
	if (argc == 1)
		return 0;
	/* Not a type: say so, with the closest one (a few edits away, or one
	 * it begins: aws-sqs) and the list. */
	for (size_t i = 0; i < n; i++) {
		size_t d = em_text_distance(argv[1], all[i]->type, strlen(argv[1]) < 4 ? 1 : 3);
		if (strlen(argv[1]) >= 3 && strncmp(all[i]->type, argv[1], strlen(argv[1])) == 0 && d > 3)
			d = 3;
		if (d < best_d) {
			best_d = d;
			best = all[i]->type;
		}
	}
	fprintf(stderr, "scalers: unknown scaler type \"%s\"", argv[1]);
	if (best && best_d <= (strlen(argv[1]) < 4 ? 1u : 3u))
		fprintf(stderr, " (did you mean \"%s\"?)", best);
	fputs("; the types are:", stderr);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", all[i]->type);
	fputc('\n', stderr);
	return 2;
}
