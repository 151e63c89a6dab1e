/* test_keyed.c - shared keyed objects: one per key, made once, finished once when the last user leaves. */
#include "harness.h"

#include "adapter/util/keyed.h"

struct thing {
	struct em_keyed k;
	int inits;
};

static int finis;

static int thing_init(void *p)
{
	((struct thing *)p)->inits++;
	return 0;
}

static int thing_refuse(void *p)
{
	(void)p;
	return -1;
}

static void thing_fini(void *p)
{
	(void)p;
	finis++;
}

TEST(one_object_per_key_finished_with_its_last_reference)
{
	struct em_keyed_set set = EM_KEYED_SET_INIT;
	struct thing *a = em_keyed_get(&set, "postgres://h/db", sizeof(struct thing), thing_init);
	struct thing *b = em_keyed_get(&set, "postgres://h/db", sizeof(struct thing), thing_init);
	struct thing *c = em_keyed_get(&set, "postgres://h/other", sizeof(struct thing), thing_init);

	finis = 0;
	EXPECT(a != NULL && a == b);
	EXPECT(c != NULL && c != a);
	EXPECT_INT(a->inits, 1);
	EXPECT_INT(a->k.refs, 2);
	EXPECT_STR(a->k.key, "postgres://h/db");
	em_keyed_put(&set, b, thing_fini);
	EXPECT_INT(finis, 0);
	em_keyed_put(&set, a, thing_fini);
	EXPECT_INT(finis, 1);
	/* gone: the next user of the key gets a new object */
	a = em_keyed_get(&set, "postgres://h/db", sizeof(struct thing), thing_init);
	EXPECT(a != NULL && a->inits == 1 && a->k.refs == 1);
	em_keyed_put(&set, a, thing_fini);
	em_keyed_put(&set, c, thing_fini);
	EXPECT_INT(finis, 3);
	EXPECT(set.head == NULL);
	em_keyed_put(&set, NULL, thing_fini);
}

TEST(failed_init_leaves_nothing_behind)
{
	struct em_keyed_set set = EM_KEYED_SET_INIT;

	EXPECT(em_keyed_get(&set, "k", sizeof(struct thing), thing_refuse) == NULL);
	EXPECT(set.head == NULL);
}
