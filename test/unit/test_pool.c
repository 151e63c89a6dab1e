/* test_pool.c - unit tests of the connection pool: slots shared and opened only while one is busy, waits, back-off. */
#include "harness.h"

#include <pthread.h>
#include <unistd.h>

#include "adapter/util/clock.h"
#include "adapter/util/pool.h"

static int closed;

static void fake_close(void *c)
{
	if (c)
		closed++;
}

static void *fake_shared_new(const void *arg)
{
	return strdup(arg);
}

static const struct em_pool_ops ops = {.kind = "test", .close = fake_close, .shared_new = fake_shared_new,
				       .shared_free = free};
static const struct em_pool_ops other_ops = {.kind = "other", .close = fake_close};

static int conn_a, conn_b;

TEST(pure_parts)
{
	EXPECT_INT(em_pool_share_wait_ms(3000), EM_POOL_SHARE_WAIT_MS);
	EXPECT_INT(em_pool_share_wait_ms(1000), 250);
	EXPECT_INT(em_pool_share_wait_ms(400), 100);
	EXPECT_INT(em_pool_share_wait_ms(3), 0);
	EXPECT_INT(em_pool_share_wait_ms(-5), 0);
	for (int64_t b = 0; b < 20000; b += 13)
		if (em_pool_share_wait_ms(b) > b / 4 || em_pool_share_wait_ms(b) > EM_POOL_SHARE_WAIT_MS)
			TH_FAIL("budget %lld gives share wait %lld", (long long)b, (long long)em_pool_share_wait_ms(b));
	{
		int64_t b = 0, want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			b = em_pool_backoff_next(b);
			EXPECT_INT(b, want[i]);
		}
	}
}

TEST(one_pool_per_kind_and_key)
{
	struct em_pool *a = em_pool_get(&ops, "db:1 pw=x", "shared-a");
	struct em_pool *b = em_pool_get(&ops, "db:1 pw=x", "ignored: made once");
	struct em_pool *c = em_pool_get(&ops, "db:1 pw=y", "shared-c");
	struct em_pool *d = em_pool_get(&other_ops, "db:1 pw=x", NULL);

	EXPECT(a && a == b && a != c && d && d != a);
	EXPECT_STR(em_pool_shared(a), "shared-a");
	EXPECT_STR(em_pool_shared(c), "shared-c");
	EXPECT(em_pool_shared(d) == NULL);
	em_pool_put(a);
	em_pool_put(b);
	em_pool_put(c);
	em_pool_put(d);
	em_pool_put(NULL);
}

TEST(a_free_connection_is_reused_and_closed_with_the_pool)
{
	struct em_pool *p = em_pool_get(&ops, "reuse", "s");
	struct em_err err = {0};
	void *c = (void *)1;
	int64_t deadline = em_mono_ms() + 1000;
	int s = em_pool_acquire(p, deadline, &c, &err);

	EXPECT(s >= 0 && c == NULL);              /* empty: the caller connects */
	em_pool_connected(p, s);
	em_pool_release(p, s, &conn_a);
	s = em_pool_acquire(p, deadline, &c, &err);
	EXPECT(s >= 0 && c == &conn_a);           /* the same connection again */
	em_pool_release(p, s, c);
	closed = 0;
	em_pool_put(p);
	EXPECT_INT(closed, 1);
}

TEST(busy_connection_another_only_after_the_share_wait)
{
	struct em_pool *p = em_pool_get(&ops, "busy", "s");
	struct em_err err = {0};
	void *c;
	int64_t t0, waited;
	int s1, s2;

	s1 = em_pool_acquire(p, em_mono_ms() + 2000, &c, &err);
	em_pool_connected(p, s1);
	/* s1 busy: a second fetch waits the share wait (250 ms), then gets an empty slot */
	t0 = em_mono_ms();
	s2 = em_pool_acquire(p, em_mono_ms() + 2000, &c, &err);
	waited = em_mono_ms() - t0;
	EXPECT(s2 >= 0 && s2 != s1 && c == NULL);
	EXPECT(waited >= 240);
	em_pool_connected(p, s2);
	em_pool_release(p, s2, &conn_b);
	em_pool_release(p, s1, &conn_a);
	em_pool_put(p);
}

struct releaser {
	struct em_pool *p;
	int slot;
};

static void *release_soon(void *arg)
{
	struct releaser *r = arg;

	em_sleep_ms(50);
	em_pool_release(r->p, r->slot, &conn_a);
	return NULL;
}

TEST(a_connection_freed_while_waiting_is_taken)
{
	struct em_pool *p = em_pool_get(&ops, "freed", "s");
	struct em_err err = {0};
	struct releaser r = {.p = p};
	pthread_t th;
	void *c;
	int s;

	r.slot = em_pool_acquire(p, em_mono_ms() + 2000, &c, &err);
	em_pool_connected(p, r.slot);
	pthread_create(&th, NULL, release_soon, &r);
	s = em_pool_acquire(p, em_mono_ms() + 2000, &c, &err);
	pthread_join(th, NULL);
	EXPECT_INT(s, r.slot);              /* woken by the release, before the share wait */
	EXPECT(c == &conn_a);
	em_pool_release(p, s, c);
	em_pool_put(p);
}

TEST(all_busy_until_the_deadline_is_an_error)
{
	struct em_pool *p = em_pool_get(&ops, "full", "s");
	struct em_err err = {0};
	int slots[EM_POOL_MAX_CONNS];
	void *c;

	for (int i = 0; i < EM_POOL_MAX_CONNS; i++) {
		/* a budget of 0 ms: no share wait, an empty slot at once */
		slots[i] = em_pool_acquire(p, em_mono_ms() + 4, &c, &err);
		EXPECT(slots[i] >= 0);
		em_pool_connected(p, slots[i]);
	}
	EXPECT_INT(em_pool_acquire(p, em_mono_ms() + 100, &c, &err), -1);
	EXPECT_INT(err.kind, EM_E_UNAVAILABLE);
	EXPECT_STR(err.msg, "no connection to this server came free in time (4 busy with commands or connecting)");
	for (int i = 0; i < EM_POOL_MAX_CONNS; i++)
		em_pool_release(p, slots[i], NULL);
	em_pool_put(p);
}

TEST(back_off_after_failures)
{
	struct em_pool *p = em_pool_get(&ops, "backoff", "s");
	char last[64];
	int64_t wait_ms = 0;

	EXPECT_INT(em_pool_may_connect(p, last, sizeof(last), &wait_ms), 0);
	em_pool_connect_result(p, "connection refused");
	EXPECT_INT(em_pool_may_connect(p, last, sizeof(last), &wait_ms), -1);
	EXPECT_STR(last, "connection refused");
	EXPECT(wait_ms > 900 && wait_ms <= 1000);
	em_pool_connect_result(p, "again");
	EXPECT_INT(em_pool_may_connect(p, last, sizeof(last), &wait_ms), -1);
	EXPECT(wait_ms > 1900 && wait_ms <= 2000);
	em_pool_connect_result(p, NULL);   /* a success resets it */
	EXPECT_INT(em_pool_may_connect(p, last, sizeof(last), &wait_ms), 0);
	em_pool_put(p);
}
