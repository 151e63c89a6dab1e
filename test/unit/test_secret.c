/* test_secret.c - secrets: scrubbing, scopes, messages scrubbed while whole (errors, excerpts), cutting at characters. */
#include "harness.h"

#include "adapter/util/err.h"
#include "adapter/util/goquote.h"
#include "adapter/util/secret.h"

TEST(scrub_replaces_every_occurrence_and_terminates)
{
	char auth[128] = "auth failed for s3cr3t: token s3cr3t rejected (key AKIA123)";
	const char *secrets[] = {"s3cr3t", "AKIA123"};
	char msg[64] = "a ***** b *****";
	const char *s[] = {"****", "b"};   /* a secret of stars; a too-short one */

	em_scrub(auth, sizeof(auth), secrets, 2);
	EXPECT_STR(auth, "auth failed for ***: token *** rejected (key ***)");
	em_scrub(msg, sizeof(msg), s, 2);
	EXPECT_STR(msg, "a **** b ****");
	em_scrub(NULL, 0, s, 2);
}

/* The session token sits across the 512-byte cut of an error message: once
 * cut it would no longer match, so it is scrubbed first. */
TEST(errors_are_scrubbed_before_they_are_cut)
{
	const char *token = "IQoJb3JpZ2luX2VjEFUaCXVzLWVhc3QtMSJHMEUCIQDn3Qt0kZ9tSmFkZXNlY3JldA==";
	const char *v[] = {token};
	struct em_secret_scope scope;
	struct em_err e;
	char pad[600];

	memset(pad, 'x', sizeof(pad));
	for (int at = 440; at < 520; at += 7) {
		pad[at] = '\0';
		em_secret_scope_enter(&scope, v, 1);
		em_err_set(&e, EM_E_UNAVAILABLE, "%s%s trailing", pad, token);
		em_secret_scope_leave(&scope);
		pad[at] = 'x';
		EXPECT(strlen(e.msg) <= EM_ERR_MSG_MAX - 1);
		EXPECT(strstr(e.msg, "IQoJ") == NULL);
		EXPECT(strstr(e.msg, "***") != NULL || strlen(e.msg) < (size_t)at + 3);
	}
	/* prefixing too: the prefix may quote outside text */
	em_secret_scope_enter(&scope, v, 1);
	em_err_set(&e, EM_E_UNAVAILABLE, "inner");
	em_err_prefix(&e, "echo %s", token);
	em_secret_scope_leave(&scope);
	EXPECT_STR(e.msg, "echo ***: inner");
	/* out of scope nothing is scrubbed */
	em_err_set(&e, EM_E_UNAVAILABLE, "%s", token);
	EXPECT_STR(e.msg, token);
}

TEST(scopes_nest)
{
	const char *a[] = {"alpha-secret"}, *b[] = {"beta-secret"};
	struct em_secret_scope sa, sb;
	char msg[64] = "alpha-secret beta-secret";

	em_secret_scope_enter(&sa, a, 1);
	em_secret_scope_enter(&sb, b, 1);
	em_scrub_scoped(msg, sizeof(msg));
	em_secret_scope_leave(&sb);
	em_secret_scope_leave(&sa);
	EXPECT_STR(msg, "*** ***");
}

TEST(cut_never_splits_a_character)
{
	char out[6];

	EXPECT_INT(em_copy_cut(out, sizeof(out), "abcd\xc3\xa9z"), 1);
	EXPECT_STR(out, "abcd");
	EXPECT_INT(em_copy_cut(out, sizeof(out), "ab"), 0);
	EXPECT_STR(out, "ab");
}

TEST(excerpts_are_scrubbed_escaped_and_short)
{
	const char *v[] = {"hunter2-secret"};
	struct em_secret_scope scope;
	char out[EM_EXCERPT_BUF], body[400];

	em_excerpt(out, sizeof(out), "line\n\"quoted\"\x01\xff", 100, 100);
	EXPECT_STR(out, "line\\n\\\"quoted\\\"\\x01\\xff");
	/* a secret straddling the cut is scrubbed while whole */
	memset(body, 'y', sizeof(body));
	memcpy(body + 110, "hunter2-secret", 14);
	em_secret_scope_enter(&scope, v, 1);
	em_excerpt(out, sizeof(out), body, sizeof(body), EM_EXCERPT_MAX);
	em_secret_scope_leave(&scope);
	EXPECT(strstr(out, "hunter") == NULL);
	EXPECT(strstr(out, "yyy***") != NULL);
	EXPECT_INT(strlen(out), EM_EXCERPT_MAX + 3);
	EXPECT_STR(out + strlen(out) - 3, "...");
	/* a small buffer still ends in "..." */
	em_excerpt(out, 12, body, sizeof(body), 100);
	EXPECT_STR(out, "yyyyyyyy...");
	/* stops at n, and at a NUL */
	em_excerpt(out, sizeof(out), "abc\0def", 7, 50);
	EXPECT_STR(out, "abc");
}

/* Escaping can spell a secret the text did not hold: a form feed before
 * "uzz-..." is written "\f" + "uzz-...". The excerpt is scrubbed again. */
TEST(excerpts_are_scrubbed_once_escaped_too)
{
	const char *v[] = {"fuzz-session-token"};
	struct em_secret_scope scope;
	char out[EM_EXCERPT_BUF];

	em_secret_scope_enter(&scope, v, 1);
	em_excerpt(out, sizeof(out), "a\fuzz-session-token b", 100, 100);
	em_secret_scope_leave(&scope);
	EXPECT_STR(out, "a\\*** b");
}
