/* files.c - reading small files (configs, PEM, tokens, mounted Secrets) and noticing when they change. */
#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "secret.h"
#include "strbuf.h"

char *em_read_file(const char *path, size_t max, int trim, size_t *len, char *why, size_t whycap)
{
	FILE *f = fopen(path, "rb");
	struct em_strbuf sb;
	char buf[8192];
	size_t n;

	if (!f) {
		snprintf(why, whycap, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	em_sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (sb.len + n > max) {
			fclose(f);
			em_wipe(buf, sizeof(buf));
			em_wipe(sb.buf, sb.len);
			em_sb_free(&sb);
			snprintf(why, whycap, "%s is larger than %zu bytes", path, max);
			return NULL;
		}
		em_sb_add(&sb, buf, n);
	}
	if (ferror(f)) {
		snprintf(why, whycap, "cannot read %s: %s", path, strerror(errno));
		fclose(f);
		em_wipe(buf, sizeof(buf));
		em_wipe(sb.buf, sb.len);
		em_sb_free(&sb);
		return NULL;
	}
	fclose(f);
	em_wipe(buf, sizeof(buf));
	while (trim && sb.len && strchr(trim == EM_READ_TRIM_SPACE ? " \t\r\n\v\f" : "\r\n", sb.buf[sb.len - 1]))
		sb.buf[--sb.len] = '\0';
	if (len)
		*len = sb.len;
	if (sb.oom) {
		snprintf(why, whycap, "cannot read %s: out of memory", path);
		em_sb_free(&sb);
		return NULL;
	}
	return em_sb_steal(&sb);
}

int em_file_sig(const char *path, char *out, size_t cap)
{
	struct stat st;

	out[0] = '\0';
	if (!path || stat(path, &st) != 0)
		return -1;
	snprintf(out, cap, "%lu:%lu:%lld:%lld.%09ld", (unsigned long)st.st_dev, (unsigned long)st.st_ino,
		 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return 0;
}
