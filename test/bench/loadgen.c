/* loadgen.c - keep-alive HTTPS load with an optional client certificate (wrk has none): req/s and latency percentiles. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Usage: loadgen PORT PATH CONNS SECONDS [CERT KEY] [IDLE]
 * Opens IDLE extra TLS connections first (each sends one request, then
 * stays open and silent; source addresses 127.0.0.2.. so per-address limits
 * hold), then CONNS connections, one thread each, send GET PATH back to back
 * for SECONDS. Prints "rps p50_ms p99_ms errors". */

static const char *path, *cert, *key;
static int port;
static double seconds;
static atomic_int stop;
static SSL_CTX *ctx;

struct worker {
	pthread_t t;
	double *lat;
	size_t n, cap;
	long errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL *dial(unsigned src)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL *s;

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src) {
		struct sockaddr_in b = {.sin_family = AF_INET};
		b.sin_addr.s_addr = htonl(0x7f000000u | src);
		if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0)
			goto fail;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1) {
		SSL_free(s);
		goto fail;
	}
	return s;
fail:
	close(fd);
	return NULL;
}

static void hangup(SSL *s)
{
	int fd;

	if (!s)
		return;
	fd = SSL_get_fd(s);
	SSL_free(s);
	close(fd);
}

/* One request and its whole response; 0 on a 200. */
static int exchange(SSL *s)
{
	char req[512], buf[16384];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Remote-User: bench\r\n"
			 "X-Remote-Group: system:authenticated\r\n\r\n", path);
	size_t have = 0, need = 0;
	char *end = NULL;

	if (SSL_write(s, req, n) != n)
		return -1;
	for (;;) {
		int r = SSL_read(s, buf + have, (int)(sizeof(buf) - 1 - have));
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			need = (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (end && have >= need)
			return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
		if (have == sizeof(buf) - 1)
			return -1;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	SSL *s = dial(0);

	while (!atomic_load(&stop)) {
		double t0 = now_s();
		if (!s || exchange(s) != 0) {
			w->errors++;
			hangup(s);
			s = dial(0);
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
		}
		w->lat[w->n++] = now_s() - t0;
	}
	hangup(s);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int conns, idle = 0, opened = 0;
	struct worker *w;
	SSL **idles = NULL;
	double *all, t0;
	size_t total = 0;
	long errors = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: loadgen PORT PATH CONNS SECONDS [CERT KEY] [IDLE]\n");
		return 2;
	}
	port = atoi(argv[1]);
	path = argv[2];
	conns = atoi(argv[3]);
	seconds = atof(argv[4]);
	if (argc >= 7 && *argv[5]) {
		cert = argv[5];
		key = argv[6];
	}
	if (argc >= 8)
		idle = atoi(argv[7]);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (cert && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		     SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	idles = calloc((size_t)idle + 1, sizeof(*idles));
	for (int i = 0; i < idle; i++) {
		/* 1000 per source address: below per-address connection limits */
		idles[i] = dial(2 + (unsigned)(i / 1000));
		if (idles[i] && exchange(idles[i]) == 0)
			opened++;
	}
	if (idle)
		fprintf(stderr, "loadgen: %d of %d idle keep-alive connections open\n", opened, idle);
	w = calloc((size_t)conns, sizeof(*w));
	t0 = now_s();
	for (int i = 0; i < conns; i++)
		pthread_create(&w[i].t, NULL, run, &w[i]);
	while (now_s() - t0 < seconds)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	t0 = now_s() - t0;
	all = malloc((total ? total : 1) * sizeof(double));
	total = 0;
	for (int i = 0; i < conns; i++) {
		memcpy(all + total, w[i].lat, w[i].n * sizeof(double));
		total += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(double), cmp);
	printf("%.0f %.3f %.3f %ld\n", (double)total / t0, total ? all[total / 2] * 1000 : 0,
	       total ? all[(size_t)((double)total * 0.99)] * 1000 : 0, errors);
	for (int i = 0; i < idle; i++)
		hangup(idles[i]);
	free(idles);
	free(all);
	free(w);
	SSL_CTX_free(ctx);
	return 0;
}
