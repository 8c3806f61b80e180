/* sora-train's data loader (loader.h): the header scan at open, the epoch order, the reader thread. */
#include "loader.h"

#include "../flow/bucket.h"
#include "../io/safetensors.h"
#include "../io/shards.h"
#include "../util/log.h"
#include "../util/progress.h"

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PREFETCH     16
#define DEFAULT_PREFETCH 2
#define SCAN_REPORT_S    5.0  /* a scan this long prints where it is, then again every SCAN_REPORT_S */
#define SCAN_CLOCK_ROWS  1024 /* rows between looks at the clock */

enum { ROW_OK, ROW_BAD, ROW_NO_BUCKET };

typedef struct row {
	char *id;
	int dir, shard;   /* where it is, for messages */
	int64_t at;       /* its index in its dataset (sora_dataset_at) */
	int64_t shape[4]; /* latent [C, T, H, W] */
	int lt, dt, dc;   /* t5 [lt, dt], clip [dc] */
	int bs;           /* its bucket's batch size (with a bucket_config) */
	int state;        /* ROW_* */
	int warned;       /* a read failure was reported (the reader thread's) */
} row;

/* Rows of one latent shape; its rows are members[first .. first + n). */
typedef struct bucket {
	int64_t shape[4];
	int bs;
	int64_t first, n;
} bucket;

/* One batch of an epoch's order: perm[start .. start + len) of bucket b. */
typedef struct slot {
	int64_t start;
	int len, b;
} slot;

/* An epoch's order, rebuilt by the reader thread when it enters another epoch. */
typedef struct plan {
	int64_t epoch; /* -1: none yet */
	int64_t *perm; /* members, shuffled within each bucket */
	slot *batches; /* [nbatches] in the epoch's order */
} plan;

/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
typedef struct rng {
	uint64_t s[4];
} rng;

struct sora_loader {
	int ndirs;
	char **dirs;
	sora_dataset **ds;
	row *rows;
	int64_t nrows;
	bucket *buckets;
	int nbuckets;
	int64_t *members; /* rows of every bucket, bucket after bucket, each in dataset order */
	int64_t nmembers;
	int64_t nbatches;  /* all ranks' batches in an epoch */
	int64_t per_epoch; /* this rank's */
	int dt, dc;
	uint64_t seed;
	int rank, world;
	_Atomic int64_t skipped;

	plan pl;            /* the reader thread's */
	int64_t empty_run;  /* the reader's: consecutive batches none of whose rows could be read */
	_Atomic int stop;   /* close: the reader leaves, even in the middle of a batch */
	pthread_mutex_t mu; /* guards what follows */
	pthread_cond_t ready, room;
	int started;
	pthread_t thread;
	sora_batch *queue;
	int cap, head, count;
	int64_t epoch, index; /* the next position to decode */
	uint64_t gen;         /* bumped by seek: batches decoded for an older position are dropped */
	int failed;
	sora_err err;
};

/* ---- the PRNG and the shuffle: an epoch's order is a function of (seed, epoch) ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* The state of epoch e: splitmix64 from (its first output from seed) xor e gives the four words, so
 * every (seed, epoch) has its own stream. */
static void rng_seed(rng *r, uint64_t seed, int64_t epoch)
{
	uint64_t x = seed;
	x = splitmix64(&x) ^ (uint64_t)epoch;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

/* Uniform in [0, n): draws below 2^64 mod n are rejected so that every residue is equally likely. */
static uint64_t rng_below(rng *r, uint64_t n)
{
	uint64_t low = (0 - n) % n, x;
	do
		x = rng_next(r);
	while (x < low);
	return x % n;
}

/* Fisher–Yates, from the last element down. */
static void shuffle_rows(int64_t *a, int64_t n, rng *r)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static void shuffle_slots(slot *a, int64_t n, rng *r)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
		slot t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* Epoch e's order: each bucket's rows shuffled (buckets in shape order, one stream), cut into batches in
 * that order, then the batches shuffled by the same stream. */
static void plan_epoch(sora_loader *ld, int64_t epoch)
{
	plan *p = &ld->pl;
	rng r;
	int64_t k = 0;
	rng_seed(&r, ld->seed, epoch);
	memcpy(p->perm, ld->members, (size_t)ld->nmembers * sizeof *p->perm);
	for (int b = 0; b < ld->nbuckets; b++) {
		const bucket *bk = &ld->buckets[b];
		shuffle_rows(p->perm + bk->first, bk->n, &r);
		for (int64_t s = 0; s < bk->n; s += bk->bs)
			p->batches[k++] =
			    (slot){bk->first + s, (int)(bk->n - s < bk->bs ? bk->n - s : bk->bs), b};
	}
	shuffle_slots(p->batches, ld->nbatches, &r);
	p->epoch = epoch;
}

/* ---- the scan at open: every row's header ---- */

/* Rows of buckets the bucket_config lacks, counted by bucket name for one line each. */
typedef struct unlisted {
	char name[96];
	int64_t n;
} unlisted;

typedef struct scan {
	const sora_bucket *cfg; /* NULL without a bucket_config */
	unlisted *un;
	int nun, capun;
	int64_t done, total;
	double t0, last;
} scan;

static void left_out(sora_loader *ld, row *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "DIR/shard-NNNNN.mdb: row 'ID' <what>: <why>" */
static void warn_row(const sora_loader *ld, const row *r, const char *what, const char *why)
{
	log_warn("%s/%s: row '%s' %s: %s", ld->dirs[r->dir],
		 sora_dataset_shard_file(ld->ds[r->dir], r->shard), r->id, what, why);
}

/* One warning naming the row and why, once: the row never reaches a batch. */
static void left_out(sora_loader *ld, row *r, const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	warn_row(ld, r, "left out", why);
	r->state = ROW_BAD;
	atomic_fetch_add(&ld->skipped, 1);
}

static int is_float(const char *dtype)
{
	return !strcmp(dtype, "F32") || !strcmp(dtype, "BF16") || !strcmp(dtype, "F16");
}

/* 0 when tensor `name` is there, floating point, of rank ndim and no empty or huge dimension; else -1
 * with the fault in why. */
static int tensor_fault(const sora_st_tensor *t, const char *name, int ndim, char *why, size_t n)
{
	if (!t) {
		snprintf(why, n, "no %s tensor", name);
		return -1;
	}
	if (!is_float(t->dtype)) {
		snprintf(why, n, "%s is %s, not a floating-point tensor", name, t->dtype);
		return -1;
	}
	if (t->ndim != ndim) {
		snprintf(why, n, "%s has %d dims, expected %d", name, t->ndim, ndim);
		return -1;
	}
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] < 1 || t->shape[i] > INT_MAX) {
			snprintf(why, n, "%s has dimension %d of size %lld", name, i, (long long)t->shape[i]);
			return -1;
		}
	return 0;
}

/* The rows of an unlisted bucket are counted under its name. */
static int count_unlisted(scan *sc, const char *name, sora_err *e)
{
	for (int i = 0; i < sc->nun; i++)
		if (!strcmp(sc->un[i].name, name)) {
			sc->un[i].n++;
			return 0;
		}
	if (sc->nun == sc->capun) {
		int cap = sc->capun ? 2 * sc->capun : 16;
		unlisted *u = realloc(sc->un, (size_t)cap * sizeof *u);
		CHECK_ALLOC(e, u);
		sc->un = u;
		sc->capun = cap;
	}
	snprintf(sc->un[sc->nun].name, sizeof sc->un[0].name, "%s", name);
	sc->un[sc->nun++].n = 1;
	return 0;
fail:
	return -1;
}

/* The batch size of the row's bucket name ("256px/16:9/33": resolution / ratio / frames): 0, or 1 with the
 * fault in why, or -1 on an error. The rows of a bucket the config lacks get ROW_NO_BUCKET. */
static int bucket_size(sora_loader *ld, scan *sc, row *r, const char *name, char *why, size_t n, sora_err *e)
{
	char res[32], *end = NULL;
	if (!name) {
		snprintf(why, n, "no \"bucket\" in its metadata (a bucket_config needs it)");
		return 1;
	}
	const char *slash = strchr(name, '/'), *last = strrchr(name, '/');
	long t = last ? strtol(last + 1, &end, 10) : 0;
	if (!slash || last == slash || (size_t)(slash - name) >= sizeof res || end == last + 1 || *end ||
	    t < 1 || t > INT_MAX) {
		snprintf(why, n, "bucket \"%.100s\" is not resolution/ratio/frames", name);
		return 1;
	}
	snprintf(res, sizeof res, "%.*s", (int)(slash - name), name);
	sora_bucket_id id = {.resolution = res, .t = (int)t, .ratio = ""};
	if (sora_bucket_batch_size(sc->cfg, &id, &r->bs, NULL) < 0) {
		r->state = ROW_NO_BUCKET;
		atomic_fetch_add(&ld->skipped, 1);
		return count_unlisted(sc, name, e);
	}
	return 0;
}

/* Reads what the loader needs from a row's header: the shapes, and its bucket's batch size. A fault
 * leaves the row out; only an allocation failure is an error. */
static int inspect(sora_loader *ld, scan *sc, row *r, const MDB_val *v, sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_err pe = {0};
	char why[300];
	if (sora_st_open_mem(&st, v->mv_data, v->mv_size, "value", &pe) < 0) {
		left_out(ld, r, "not a valid blob: %s", pe.msg);
		return 0;
	}
	const sora_st_tensor *lat = sora_st_find(st, "latent"), *t5 = sora_st_find(st, "t5"),
			     *clip = sora_st_find(st, "clip");
	if (tensor_fault(lat, "latent", 4, why, sizeof why) < 0 ||
	    tensor_fault(t5, "t5", 2, why, sizeof why) < 0 ||
	    tensor_fault(clip, "clip", 1, why, sizeof why) < 0) {
		left_out(ld, r, "%s", why);
		sora_st_close(st);
		return 0;
	}
	memcpy(r->shape, lat->shape, sizeof r->shape);
	r->lt = (int)t5->shape[0];
	r->dt = (int)t5->shape[1];
	r->dc = (int)clip->shape[0];
	int rc = sc->cfg ? bucket_size(ld, sc, r, sora_st_metadata(st, "bucket"), why, sizeof why, e) : 0;
	if (rc > 0)
		left_out(ld, r, "%s", why);
	sora_st_close(st);
	return rc < 0 ? -1 : 0;
}

/* On a long scan, a line every SCAN_REPORT_S seconds after the first SCAN_REPORT_S. */
static void scan_tick(scan *sc)
{
	if (++sc->done % SCAN_CLOCK_ROWS)
		return;
	double now = sora_now();
	if (now - sc->last < SCAN_REPORT_S)
		return;
	sc->last = now;
	log_info("loader: %lld of %lld row headers read (%.0f s)", (long long)sc->done, (long long)sc->total,
		 now - sc->t0);
}

static int add_row(sora_loader *ld, scan *sc, const MDB_val *k, const MDB_val *v, int dir, int shard,
		   int64_t at, sora_err *e)
{
	row *r = &ld->rows[ld->nrows];
	CHECK(e, ld->nrows < sc->total, "%s: more rows than index.json says", ld->dirs[dir]);
	memset(r, 0, sizeof *r);
	CHECK_ALLOC(e, r->id = strndup(k->mv_data, k->mv_size));
	ld->nrows++;
	r->dir = dir;
	r->shard = shard;
	r->at = at;
	TRY(inspect(ld, sc, r, v, e));
	scan_tick(sc);
	return 0;
fail:
	return -1;
}

/* One cursor walk over a shard, in key order as sora_dataset_at numbers the rows. The shard is opened
 * apart from the sora_dataset (read-only, no lock file: two handles are safe) with read-ahead off, so only
 * the first page of each value is read. */
static int scan_shard(sora_loader *ld, scan *sc, int dir, int shard, int64_t *at, sora_err *e)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	char path[4096];
	int rc, n = snprintf(path, sizeof path, "%s/%s", ld->dirs[dir],
			     sora_dataset_shard_file(ld->ds[dir], shard));
	CHECK(e, n > 0 && (size_t)n < sizeof path, "%s: path too long", ld->dirs[dir]);
	CHECK(e, (rc = mdb_env_create(&env)) == 0, "%s: %s", path, mdb_strerror(rc));
	rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD, 0);
	CHECK(e, rc == 0, "%s: cannot open as LMDB: %s", path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0, "%s: %s", path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0, "%s: %s", path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_cursor_open(txn, dbi, &cur)) == 0, "%s: %s", path, mdb_strerror(rc));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		TRY(add_row(ld, sc, &k, &v, dir, shard, (*at)++, e));
	CHECK(e, rc == MDB_NOTFOUND, "%s: reading its rows: %s", path, mdb_strerror(rc));
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
fail:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	return -1;
}

static int scan_dataset(sora_loader *ld, scan *sc, int dir, sora_err *e)
{
	int64_t at = 0;
	int shards =
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sora_dataset_index(ld->ds[dir]), "shards"));
	for (int s = 0; s < shards; s++)
		TRY(scan_shard(ld, sc, dir, s, &at, e));
	CHECK(e, at == sora_dataset_count(ld->ds[dir]), "%s: %lld rows in the shards, index.json says %lld",
	      ld->dirs[dir], (long long)at, (long long)sora_dataset_count(ld->ds[dir]));
	return 0;
fail:
	return -1;
}

/* ---- widths and buckets ---- */

/* encoders.<enc>.width of index.json: the datasets that give one must agree; *w = 0 when none does. */
static int declared_width(const sora_loader *ld, const char *enc, int *w, sora_err *e)
{
	int from = -1;
	*w = 0;
	for (int i = 0; i < ld->ndirs; i++) {
		const cJSON *enc_all =
		    cJSON_GetObjectItemCaseSensitive(sora_dataset_index(ld->ds[i]), "encoders");
		const cJSON *x =
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(enc_all, enc), "width");
		if (!cJSON_IsNumber(x))
			continue;
		CHECK(e, !*w || x->valuedouble == *w,
		      "%s has %s width %d, %s has %g: datasets of different models", ld->dirs[from], enc, *w,
		      ld->dirs[i], x->valuedouble);
		CHECK(e, x->valuedouble >= 1 && x->valuedouble <= INT_MAX, "%s: encoders.%s.width %g",
		      ld->dirs[i], enc, x->valuedouble);
		*w = (int)x->valuedouble;
		from = i;
	}
	return 0;
fail:
	return -1;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The most common width (t5 when t5, else clip) among the rows still in; ties go to the smaller. */
static int common_width(const sora_loader *ld, int t5, int *w, sora_err *e)
{
	int *v = malloc((size_t)(ld->nrows + 1) * sizeof *v);
	int64_t n = 0, best = 0;
	CHECK_ALLOC(e, v);
	for (int64_t i = 0; i < ld->nrows; i++)
		if (ld->rows[i].state == ROW_OK)
			v[n++] = t5 ? ld->rows[i].dt : ld->rows[i].dc;
	qsort(v, (size_t)n, sizeof *v, cmp_int);
	*w = 0;
	for (int64_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && v[j] == v[i]; j++)
			;
		if (j - i > best) {
			best = j - i;
			*w = v[i];
		}
	}
	free(v);
	return 0;
fail:
	return -1;
}

static int settle_widths(sora_loader *ld, sora_err *e)
{
	TRY(declared_width(ld, "t5", &ld->dt, e));
	TRY(declared_width(ld, "clip", &ld->dc, e));
	if (!ld->dt)
		TRY(common_width(ld, 1, &ld->dt, e));
	if (!ld->dc)
		TRY(common_width(ld, 0, &ld->dc, e));
	for (int64_t i = 0; i < ld->nrows; i++) {
		row *r = &ld->rows[i];
		if (r->state == ROW_OK && r->dt != ld->dt)
			left_out(ld, r, "t5 is [%d, %d], the dataset's width is %d", r->lt, r->dt, ld->dt);
		else if (r->state == ROW_OK && r->dc != ld->dc)
			left_out(ld, r, "clip is [%d], the dataset's width is %d", r->dc, ld->dc);
	}
	return 0;
fail:
	return -1;
}

typedef struct keyed {
	int64_t shape[4];
	int64_t i;
} keyed;

/* By shape, then dataset order: a bucket's members come out in dataset order. */
static int cmp_keyed(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	for (int d = 0; d < 4; d++)
		if (x->shape[d] != y->shape[d])
			return (x->shape[d] > y->shape[d]) - (x->shape[d] < y->shape[d]);
	return (x->i > y->i) - (x->i < y->i);
}

static int add_bucket(sora_loader *ld, const keyed *k, int64_t first, int64_t n, int batch_size, sora_err *e)
{
	CHECK(e, ld->nbuckets < INT_MAX, "too many latent shapes");
	bucket *b = &ld->buckets[ld->nbuckets++];
	memcpy(b->shape, k[first].shape, sizeof b->shape);
	b->first = first;
	b->n = n;
	b->bs = batch_size;
	for (int64_t j = first; j < first + n; j++) {
		ld->members[j] = k[j].i;
		/* Rows of one shape may name buckets of different sizes: the smallest is sure to fit. */
		if (batch_size == 0 && (b->bs == 0 || ld->rows[k[j].i].bs < b->bs))
			b->bs = ld->rows[k[j].i].bs;
	}
	ld->nbatches += (n + b->bs - 1) / b->bs;
	return 0;
fail:
	return -1;
}

/* The rows still in, grouped by latent shape (buckets in shape order). batch_size 0: the rows' own. */
static int group(sora_loader *ld, int batch_size, sora_err *e)
{
	keyed *k = malloc((size_t)(ld->nrows + 1) * sizeof *k);
	int64_t n = 0;
	CHECK_ALLOC(e, k);
	for (int64_t i = 0; i < ld->nrows; i++)
		if (ld->rows[i].state == ROW_OK) {
			memcpy(k[n].shape, ld->rows[i].shape, sizeof k[n].shape);
			k[n++].i = i;
		}
	qsort(k, (size_t)n, sizeof *k, cmp_keyed);
	ld->nmembers = n;
	CHECK_ALLOC(e, ld->members = malloc((size_t)(n + 1) * sizeof *ld->members));
	CHECK_ALLOC(e, ld->buckets = calloc((size_t)n + 1, sizeof *ld->buckets));
	for (int64_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !memcmp(k[j].shape, k[i].shape, sizeof k[i].shape); j++)
			;
		TRY(add_bucket(ld, k, i, j - i, batch_size, e));
	}
	free(k);
	return 0;
fail:
	free(k);
	return -1;
}

/* ---- open ---- */

static int check_opts(const sora_loader_opts *o, sora_err *e)
{
	CHECK(e, o->ndirs >= 1 && o->dirs, "no dataset folder given");
	CHECK(e, o->bucket_config || o->batch_size >= 1, "batch size %d (and no bucket_config)",
	      o->batch_size);
	CHECK(e, o->world >= 0 && o->rank >= 0 && o->rank < (o->world ? o->world : 1), "rank %d of world %d",
	      o->rank, o->world);
	CHECK(e, o->prefetch >= 0 && o->prefetch <= MAX_PREFETCH, "prefetch %d (0 to %d)", o->prefetch,
	      MAX_PREFETCH);
	return 0;
fail:
	return -1;
}

static int open_datasets(sora_loader *ld, const sora_loader_opts *o, int64_t *total, sora_err *e)
{
	CHECK_ALLOC(e, ld->dirs = calloc((size_t)o->ndirs, sizeof *ld->dirs));
	CHECK_ALLOC(e, ld->ds = calloc((size_t)o->ndirs, sizeof(sora_dataset *)));
	*total = 0;
	for (int i = 0; i < o->ndirs; i++) {
		CHECK_ALLOC(e, ld->dirs[i] = strdup(o->dirs[i]));
		ld->ndirs++;
		TRY(sora_dataset_open(&ld->ds[i], o->dirs[i], e));
		*total += sora_dataset_count(ld->ds[i]);
	}
	return 0;
fail:
	return -1;
}

static void report_unlisted(const scan *sc)
{
	for (int i = 0; i < sc->nun; i++)
		log_warn("bucket %s is not in the bucket_config: its %lld rows are left out", sc->un[i].name,
			 (long long)sc->un[i].n);
}

/* Every row's header, then the widths and the buckets. */
static int scan_all(sora_loader *ld, const sora_loader_opts *o, sora_err *e)
{
	scan sc = {0};
	sora_bucket *cfg = NULL;
	if (o->bucket_config) {
		CHECK_ALLOC(e, cfg = malloc(sizeof *cfg));
		TRY(sora_bucket_init(cfg, o->bucket_config, "bucket_config", e));
		sc.cfg = cfg;
	}
	TRY(open_datasets(ld, o, &sc.total, e));
	CHECK_ALLOC(e, ld->rows = calloc((size_t)sc.total + 1, sizeof *ld->rows));
	sc.t0 = sc.last = sora_now();
	for (int i = 0; i < ld->ndirs; i++)
		TRY(scan_dataset(ld, &sc, i, e));
	report_unlisted(&sc);
	TRY(settle_widths(ld, e));
	TRY(group(ld, o->bucket_config ? 0 : o->batch_size, e));
	free(sc.un);
	free(cfg);
	return 0;
fail:
	free(sc.un);
	free(cfg);
	return -1;
}

static void *reader_main(void *arg);

static int start_reader(sora_loader *ld, int prefetch, sora_err *e)
{
	int rc;
	ld->cap = prefetch ? prefetch : DEFAULT_PREFETCH;
	CHECK_ALLOC(e, ld->queue = calloc((size_t)ld->cap, sizeof *ld->queue));
	CHECK_ALLOC(e, ld->pl.perm = malloc((size_t)(ld->nrows + 1) * sizeof *ld->pl.perm));
	CHECK_ALLOC(e, ld->pl.batches = malloc((size_t)ld->nbatches * sizeof *ld->pl.batches));
	ld->pl.epoch = -1;
	CHECK(e, (rc = pthread_create(&ld->thread, NULL, reader_main, ld)) == 0,
	      "cannot start the reader: %s", strerror(rc));
	ld->started = 1;
	return 0;
fail:
	return -1;
}

int sora_loader_open(sora_loader **out, const sora_loader_opts *o, sora_err *e)
{
	sora_loader *ld = calloc(1, sizeof *ld);
	*out = NULL;
	CHECK_ALLOC(e, ld);
	pthread_mutex_init(&ld->mu, NULL);
	pthread_cond_init(&ld->ready, NULL);
	pthread_cond_init(&ld->room, NULL);
	TRY(check_opts(o, e));
	ld->seed = o->seed;
	ld->rank = o->rank;
	ld->world = o->world ? o->world : 1;
	TRY(scan_all(ld, o, e));
	CHECK(e, ld->nbatches > 0, "no rows to train on: all %lld rows were left out", (long long)ld->nrows);
	ld->per_epoch = ld->nbatches > ld->rank ? (ld->nbatches - ld->rank + ld->world - 1) / ld->world : 0;
	CHECK(e, ld->per_epoch > 0, "%lld batches per epoch: none for rank %d of %d", (long long)ld->nbatches,
	      ld->rank, ld->world);
	int64_t out_rows = atomic_load(&ld->skipped);
	log_info("loader: %lld rows in %d latent shape%s, %lld batches per epoch (%lld for this rank), %lld "
		 "rows left out",
		 (long long)(ld->nrows - out_rows), ld->nbuckets, ld->nbuckets == 1 ? "" : "s",
		 (long long)ld->nbatches, (long long)ld->per_epoch, (long long)out_rows);
	TRY(start_reader(ld, o->prefetch, e));
	*out = ld;
	return 0;
fail:
	sora_loader_close(ld);
	return -1;
}

/* ---- the reader thread ---- */

/* t is there, floating point, of that shape. */
static int as_scanned(const sora_tensor *t, int ndim, const int64_t *shape)
{
	if (!t || t->ndim != ndim || (t->dtype != SORA_F32 && t->dtype != SORA_BF16 && t->dtype != SORA_F16))
		return 0;
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] != shape[i])
			return 0;
	return 1;
}

/* Row r as scanned at open into rec: 1; 0 when it cannot be read or is no longer what the scan saw
 * (reported once per row, counted once). */
static int read_row(sora_loader *ld, row *r, const bucket *bk, sora_record *rec)
{
	sora_err e = {0};
	if (sora_dataset_at(ld->ds[r->dir], r->at, rec, &e) < 0)
		goto bad;
	if (strcmp(rec->id, r->id) != 0 || !as_scanned(sora_record_tensor(rec, "latent"), 4, bk->shape) ||
	    !as_scanned(sora_record_tensor(rec, "t5"), 2, (int64_t[]){r->lt, ld->dt}) ||
	    !as_scanned(sora_record_tensor(rec, "clip"), 1, (int64_t[]){ld->dc})) {
		snprintf(e.msg, sizeof e.msg, "it changed since the loader opened the dataset");
		goto bad;
	}
	return 1;
bad:
	sora_record_free(rec);
	if (!r->warned) {
		r->warned = 1;
		warn_row(ld, r, "left out of its batches", e.msg);
		atomic_fetch_add(&ld->skipped, 1);
	}
	return 0;
}

static int alloc_batch(sora_batch *b, int B, const int64_t *shape, int lt, int dt, int dc, sora_err *e)
{
	size_t lat = (size_t)shape[0] * (size_t)shape[1] * (size_t)shape[2] * (size_t)shape[3];
	*b = (sora_batch){.B = B,
			  .C = (int)shape[0],
			  .T = (int)shape[1],
			  .H = (int)shape[2],
			  .W = (int)shape[3],
			  .Lt = lt,
			  .Dt = dt,
			  .Dc = dc};
	CHECK_ALLOC(e, b->latent = malloc((size_t)B * lat * sizeof *b->latent));
	CHECK_ALLOC(e, b->t5 = calloc((size_t)B * (size_t)lt * (size_t)dt, sizeof *b->t5)); /* the padding */
	CHECK_ALLOC(e, b->clip = malloc((size_t)B * (size_t)dc * sizeof *b->clip));
	CHECK_ALLOC(e, b->t5_len = calloc((size_t)B, sizeof *b->t5_len));
	CHECK_ALLOC(e, b->ids = calloc((size_t)B, sizeof *b->ids));
	return 0;
fail:
	return -1;
}

static int widen(float *dst, const sora_tensor *t, sora_err *e)
{
	return sora_to_f32(dst, t->data, t->dtype, (size_t)sora_tensor_numel(t), e);
}

/* The batch of m records of bucket bk, each widened to f32; t5 zero-padded to the longest. */
static int fill_batch(sora_loader *ld, const bucket *bk, sora_record *rec, int m, sora_batch *b, sora_err *e)
{
	int lt = 1; /* every row has a t5 position (checked at open) */
	for (int j = 0; j < m; j++) {
		int l = (int)sora_record_tensor(&rec[j], "t5")->shape[0];
		lt = l > lt ? l : lt;
	}
	TRY(alloc_batch(b, m, bk->shape, lt, ld->dt, ld->dc, e));
	size_t lat = (size_t)b->C * (size_t)b->T * (size_t)b->H * (size_t)b->W;
	for (int j = 0; j < m; j++) {
		TRY(widen(b->latent + (size_t)j * lat, sora_record_tensor(&rec[j], "latent"), e));
		TRY(widen(b->t5 + (size_t)j * (size_t)lt * (size_t)ld->dt, sora_record_tensor(&rec[j], "t5"),
			  e));
		TRY(widen(b->clip + (size_t)j * (size_t)ld->dc, sora_record_tensor(&rec[j], "clip"), e));
		b->t5_len[j] = (int)sora_record_tensor(&rec[j], "t5")->shape[0];
		b->ids[j] = rec[j].id; /* the record's copy of the key moves into the batch */
		rec[j].id = NULL;
	}
	return 0;
fail:
	sora_batch_free(b);
	return -1;
}

/* Batch `index` of this rank in `epoch`: 1 and b; 0 when none of its rows could be read; -1 on an error
 * or when close stops the reader. */
static int decode(sora_loader *ld, int64_t epoch, int64_t index, sora_batch *b, sora_err *e)
{
	if (ld->pl.epoch != epoch)
		plan_epoch(ld, epoch);
	const slot *s = &ld->pl.batches[ld->rank + index * ld->world];
	const bucket *bk = &ld->buckets[s->b];
	sora_record *rec = calloc((size_t)s->len, sizeof *rec);
	int m = 0, rc = 0;
	CHECK_ALLOC(e, rec);
	for (int j = 0; j < s->len; j++) {
		CHECK(e, !atomic_load(&ld->stop), "the loader is closing");
		m += read_row(ld, &ld->rows[ld->pl.perm[s->start + j]], bk, &rec[m]);
	}
	if (m > 0) {
		TRY(fill_batch(ld, bk, rec, m, b, e));
		b->epoch = epoch;
		b->index = index;
		rc = 1;
	}
	for (int j = 0; j < m; j++)
		sora_record_free(&rec[j]);
	free(rec);
	return rc;
fail:
	for (int j = 0; j < m; j++)
		sora_record_free(&rec[j]);
	free(rec);
	return -1;
}

/* Waits for room in the queue; the position to decode next, and moves past it. 0 when closing. */
static int take_position(sora_loader *ld, int64_t *epoch, int64_t *index, uint64_t *gen)
{
	pthread_mutex_lock(&ld->mu);
	while (!atomic_load(&ld->stop) && (ld->count == ld->cap || ld->failed))
		pthread_cond_wait(&ld->room, &ld->mu);
	int go = !atomic_load(&ld->stop);
	*epoch = ld->epoch;
	*index = ld->index;
	*gen = ld->gen;
	if (++ld->index == ld->per_epoch) {
		ld->epoch++;
		ld->index = 0;
	}
	pthread_mutex_unlock(&ld->mu);
	return go;
}

/* Queues the batch (rc 1) or the error (rc -1), unless a seek made its position stale. */
static void deliver(sora_loader *ld, uint64_t gen, int rc, sora_batch *b, const sora_err *e)
{
	pthread_mutex_lock(&ld->mu);
	if (gen != ld->gen || atomic_load(&ld->stop)) {
		sora_batch_free(b);
	} else if (rc < 0) {
		ld->failed = 1;
		ld->err = *e;
		pthread_cond_signal(&ld->ready);
	} else if (rc > 0) {
		ld->queue[(ld->head + ld->count++) % ld->cap] = *b;
		pthread_cond_signal(&ld->ready);
	}
	pthread_mutex_unlock(&ld->mu);
}

static void *reader_main(void *arg)
{
	sora_loader *ld = arg;
	int64_t epoch, index;
	uint64_t gen;
	while (take_position(ld, &epoch, &index, &gen)) {
		sora_batch b = {0};
		sora_err e = {0};
		int rc = decode(ld, epoch, index, &b, &e);
		/* Batches with no readable row are passed over; an epoch of them would be passed over
		 * forever. */
		ld->empty_run = rc == 0 ? ld->empty_run + 1 : 0;
		if (ld->empty_run > ld->per_epoch)
			rc = SORA_FAIL(&e, "no row of a whole epoch could be read");
		deliver(ld, gen, rc, &b, &e);
	}
	return NULL;
}

/* ---- the trainer's side ---- */

int sora_loader_next(sora_loader *ld, sora_batch *b, sora_err *e)
{
	pthread_mutex_lock(&ld->mu);
	while (ld->count == 0 && !ld->failed)
		pthread_cond_wait(&ld->ready, &ld->mu);
	if (ld->count == 0) {
		*e = ld->err;
		pthread_mutex_unlock(&ld->mu);
		return -1;
	}
	*b = ld->queue[ld->head];
	ld->head = (ld->head + 1) % ld->cap;
	ld->count--;
	pthread_cond_signal(&ld->room);
	pthread_mutex_unlock(&ld->mu);
	return 1;
}

/* Frees the queued batches (with mu held). */
static void drain(sora_loader *ld)
{
	for (; ld->count > 0; ld->count--) {
		sora_batch_free(&ld->queue[ld->head]);
		ld->head = (ld->head + 1) % ld->cap;
	}
	ld->head = 0;
}

int sora_loader_seek(sora_loader *ld, int64_t epoch, int64_t index, sora_err *e)
{
	CHECK(e, epoch >= 0 && index >= 0 && index <= ld->per_epoch,
	      "position (epoch %lld, batch %lld) outside 0 to %lld batches per epoch", (long long)epoch,
	      (long long)index, (long long)ld->per_epoch);
	pthread_mutex_lock(&ld->mu);
	ld->gen++;
	drain(ld);
	ld->epoch = index == ld->per_epoch ? epoch + 1 : epoch;
	ld->index = index == ld->per_epoch ? 0 : index;
	ld->failed = 0;
	pthread_cond_signal(&ld->room);
	pthread_mutex_unlock(&ld->mu);
	return 0;
fail:
	return -1;
}

int64_t sora_loader_batches_per_epoch(const sora_loader *ld)
{
	return ld->per_epoch;
}

int64_t sora_loader_skipped(const sora_loader *ld)
{
	return atomic_load(&ld->skipped);
}

static void stop_reader(sora_loader *ld)
{
	pthread_mutex_lock(&ld->mu);
	atomic_store(&ld->stop, 1);
	pthread_cond_broadcast(&ld->room);
	pthread_mutex_unlock(&ld->mu);
	pthread_join(ld->thread, NULL);
}

void sora_loader_close(sora_loader *ld)
{
	if (!ld)
		return;
	if (ld->started)
		stop_reader(ld);
	if (ld->queue)
		drain(ld);
	free(ld->queue);
	free(ld->pl.perm);
	free(ld->pl.batches);
	for (int i = 0; i < ld->ndirs; i++) {
		sora_dataset_close(ld->ds[i]);
		free(ld->dirs[i]);
	}
	for (int64_t i = 0; i < ld->nrows; i++)
		free(ld->rows[i].id);
	free(ld->rows);
	free(ld->members);
	free(ld->buckets);
	free(ld->ds);
	free(ld->dirs);
	pthread_cond_destroy(&ld->ready);
	pthread_cond_destroy(&ld->room);
	pthread_mutex_destroy(&ld->mu);
	free(ld);
}

void sora_batch_free(sora_batch *b)
{
	for (int j = 0; b->ids && j < b->B; j++)
		free(b->ids[j]);
	free(b->ids);
	free(b->latent);
	free(b->t5);
	free(b->clip);
	free(b->t5_len);
	memset(b, 0, sizeof *b);
}
