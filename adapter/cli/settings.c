/* settings.c - `extmetrics settings`: the daemon's settings (server:, defaults:) as a Markdown table (README source). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "adapter/settings.h"

int em_cmd_settings(int argc, char **argv)
{
	struct em_strbuf sb;

	if (argc > 1) {
		puts("usage: extmetrics settings\n\nPrints every setting of the server: and defaults: sections (type, default, "
		     "whether a reload applies it) as Markdown.");
		return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
	}
	em_sb_init(&sb);
	em_settings_markdown(&sb);
	fputs(sb.buf ? sb.buf : "", stdout);
	em_sb_free(&sb);
	return sb.oom ? 1 : 0;
}
