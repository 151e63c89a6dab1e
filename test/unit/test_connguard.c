/* test_connguard.c - connection deadlines and limits (apiservice/connguard) on socket pairs: who is shut, who is kept. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapter/util/clock.h"
#include "apiservice/connguard.h"

struct pair {
	int ours, theirs;   /* the guard sees ours; theirs tells whether it was shut */
	struct em_conn *c;
};

static struct sockaddr_in addr(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static bool open_pair(struct em_connguard *g, struct pair *p, const char *ip)
{
	int sv[2];
	struct sockaddr_in a = addr(ip);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return false;
	p->ours = sv[0];
	p->theirs = sv[1];
	p->c = em_connguard_open(g, p->ours, (struct sockaddr *)&a);
	return p->c != NULL;
}

/* Whether the guard shut the connection: the other end reads EOF. */
static bool was_shut(const struct pair *p, int wait_ms)
{
	struct pollfd pf = {.fd = p->theirs, .events = POLLIN};
	char b;

	return poll(&pf, 1, wait_ms) == 1 && read(p->theirs, &b, 1) == 0;
}

static void close_pair(struct em_connguard *g, struct pair *p)
{
	em_connguard_close(g, p->c);
	close(p->ours);
	close(p->theirs);
}

TEST(a_request_that_does_not_complete_in_time_is_shut)
{
	struct em_connguard_limits l = {.head_timeout_ms = 200, .idle_timeout_ms = 400, .per_ip = 10, .max = 100, .listener = "t"};
	struct em_connguard *g = em_connguard_new(&l);
	struct pair slow, quick;

	EXPECT(open_pair(g, &slow, "10.0.0.1"));
	EXPECT(open_pair(g, &quick, "10.0.0.1"));
	em_connguard_busy(g, quick.c);          /* its request came in time */
	EXPECT(was_shut(&slow, 2000));
	EXPECT(!was_shut(&quick, 400));
	em_connguard_idle(g, quick.c);          /* answered: waits again, kept alive longer (400 ms) */
	EXPECT(!was_shut(&quick, 250));
	EXPECT(was_shut(&quick, 2000));
	close_pair(g, &slow);
	close_pair(g, &quick);
	em_connguard_free(g);
}

TEST(past_the_per_ip_limit_the_longest_waiting_of_that_ip_makes_room)
{
	struct em_connguard_limits l = {.head_timeout_ms = 60000, .idle_timeout_ms = 60000, .per_ip = 3, .max = 100, .listener = "t"};
	struct em_connguard *g = em_connguard_new(&l);
	struct pair a[3], other, b, c;

	for (int i = 0; i < 3; i++)
		EXPECT(open_pair(g, &a[i], "10.0.0.1"));
	EXPECT(open_pair(g, &other, "10.0.0.2"));
	em_connguard_busy(g, a[1].c);
	EXPECT(open_pair(g, &b, "10.0.0.1"));   /* a[0] waited longest: shut */
	EXPECT(was_shut(&a[0], 500));
	EXPECT(!was_shut(&a[1], 50) && !was_shut(&a[2], 50) && !was_shut(&other, 50));
	em_connguard_busy(g, a[2].c);
	em_connguard_busy(g, b.c);
	/* every connection of that IP busy: the new one is refused */
	EXPECT(!open_pair(g, &c, "10.0.0.1"));
	EXPECT(was_shut(&c, 500));
	close(c.ours);
	close(c.theirs);
	close_pair(g, &a[0]);
	close_pair(g, &a[1]);
	close_pair(g, &a[2]);
	close_pair(g, &b);
	close_pair(g, &other);
	em_connguard_free(g);
}

TEST(past_the_global_limit_the_address_holding_most_gives_way)
{
	struct em_connguard_limits l = {.head_timeout_ms = 60000, .idle_timeout_ms = 60000, .per_ip = 10, .max = 4, .listener = "t"};
	struct em_connguard *g = em_connguard_new(&l);
	struct pair x, a[3], y;

	EXPECT(open_pair(g, &x, "10.0.0.9"));      /* the oldest, but its address holds one */
	for (int i = 0; i < 3; i++)
		EXPECT(open_pair(g, &a[i], "10.0.0.1"));
	EXPECT(open_pair(g, &y, "10.0.0.7"));
	EXPECT(was_shut(&a[0], 500));
	EXPECT(!was_shut(&x, 50));
	close_pair(g, &x);
	for (int i = 0; i < 3; i++)
		close_pair(g, &a[i]);
	close_pair(g, &y);
	em_connguard_free(g);
}
