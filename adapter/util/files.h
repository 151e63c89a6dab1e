/* files.h - reading small files (configs, PEM, tokens, mounted Secrets) and noticing when they change. */
#ifndef EM_FILES_H
#define EM_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* What em_read_file drops from the end of the text. */
#define EM_READ_TRIM_NL 1      /* newlines (mounted Secrets often end with one nobody meant) */
#define EM_READ_TRIM_SPACE 2   /* all whitespace (token files) */

/* Reads all of path (at most max bytes) into a NUL-terminated malloc'd
 * string; *len gets its length when len is non-NULL. trim: 0 or an
 * EM_READ_TRIM_ value. On failure NULL, with why ("cannot read PATH:
 * reason" or "PATH is larger than N bytes"). The read buffer is wiped: the
 * file may be a secret. */
char *em_read_file(const char *path, size_t max, int trim, size_t *len, char *why, size_t whycap);

/* A text that changes when path is rewritten or replaced (device, inode,
 * size, mtime; stat follows symlinks, so a swapped ConfigMap symlink shows).
 * "" and -1 when path cannot be stat'ed. */
int em_file_sig(const char *path, char *out, size_t cap);

#endif
