/*
 * The audit log's writing side: audit_record() checks an event and queues
 * a copy on the caller's thread; one writer thread appends the queue in
 * batches with one fsync each (group commit), signs a checkpoint after
 * every checkpoint_records records or checkpoint_ms, and keeps audit.head
 * in step.  audit_open() makes the key at first start, or verifies the log
 * and continues it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "policy/audit_int.h"

struct audit {
	char			*log_path;
	char			*head_path;
	char			*head_tmp;
	char			*dir;
	int			 log_fd;
	EVP_PKEY		*key;		/* private; owned */
	struct audit_opts	 opts;

	pthread_t		 thread;
	bool			 thread_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 wake;		/* writer waits on it */
	pthread_cond_t		 done;		/* flush/checkpoint wait */
	/* Under mu. */
	struct audit_ent	*q_head;
	struct audit_ent	*q_tail;
	size_t			 q_len;
	uint64_t		 enqueued;	/* entries ever queued */
	uint64_t		 finished;	/* entries written or discarded */
	uint64_t		 grants_seen;
	uint64_t		 drops_pending;
	uint64_t		 ckpt_asked;	/* generation asked for */
	uint64_t		 ckpt_made;	/* generation served */
	bool			 stopping;
	bool			 failed;
	struct audit_stats	 stats;

	/* Writer thread only (and audit_open before it starts). */
	uint64_t		 seq;
	char			 hash[HASH_HEX + 1];
	uint64_t		 ckpt_k;
	uint64_t		 since_ckpt;
	uint64_t		 last_ckpt_ms;
};

/*
 * Copies at most max bytes of s (NULL = "") to dst, cutting at a UTF-8
 * character boundary, and returns the next free byte after the NUL.
 */
static char *
copy_cut(char *dst, const char *s, size_t max, const char **field)
{
	size_t	n;

	*field = dst;
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return dst + n + 1;
}

static size_t
cut_len(const char *s, size_t max)
{
	size_t	n = s ? strlen(s) : 0;

	return n > max ? max : n;
}

/* mkdir -p, the last component with `mode`. */
static int
mkdir_parents(const char *dir, mode_t mode)
{
	char	*p, *s;
	int	 rc = 0;

	if ((p = l_strdup(dir)) == NULL)
		return L_ERR_NOMEM;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			rc = L_ERR_IO;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		rc = L_ERR_IO;
out:
	free(p);
	return rc;
}

static int
fsync_dir(const char *dir)
{
	int	fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return L_ERR_IO;
	if (fsync(fd) != 0)
		rc = L_ERR_IO;
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return L_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes the head file atomically with `line` (with its LF). */
static int
head_write(struct audit *a, const char *line, size_t n)
{
	int	fd, rc = L_ERR_IO;

	(void)unlink(a->head_tmp);
	if ((fd = open(a->head_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) < 0)
		return L_ERR_IO;
	if (write_all(fd, line, n) != 0 || fsync(fd) != 0) {
		close(fd);
		goto out;
	}
	if (close(fd) != 0)
		goto out;
	if (rename(a->head_tmp, a->head_path) != 0)
		goto out;
	rc = fsync_dir(a->dir);
out:
	if (rc != 0)
		(void)unlink(a->head_tmp);
	return rc;
}

/* Signs (seq, hash) as checkpoint k + 1: log first, then the head. */
static int
checkpoint_write(struct audit *a)
{
	struct buf	b;
	char		tbuf[32], sig[SIG_HEX + 1];
	int		rc;

	buf_init(&b, 0);
	time_format_xep82(time_real_us(), tbuf);
	if ((rc = buf_appendf(&b, "C\t%llu\t%llu\t%s\t%s",
	    (unsigned long long)(a->ckpt_k + 1), (unsigned long long)a->seq,
	    tbuf, a->hash)) != 0)
		goto out;
	if ((rc = audit_sign_hex(a->key, b.data, b.len, sig)) != 0)
		goto out;
	if ((rc = buf_appendf(&b, "\t%s\n", sig)) != 0)
		goto out;
	if ((rc = write_all(a->log_fd, b.data, b.len)) != 0 ||
	    fdatasync(a->log_fd) != 0) {
		rc = L_ERR_IO;
		goto out;
	}
	a->ckpt_k++;
	if ((rc = head_write(a, b.data, b.len)) != 0)
		goto out;
	a->since_ckpt = 0;
	a->last_ckpt_ms = time_mono_ms();
out:
	buf_cleanup(&b);
	return rc;
}

/* Appends b to the log and fsyncs it; empties b.  Counts the batch. */
static int
batch_flush(struct audit *a, struct buf *b, uint64_t *nsync)
{
	if (b->len == 0)
		return 0;
	if (write_all(a->log_fd, b->data, b->len) != 0 ||
	    fdatasync(a->log_fd) != 0)
		return L_ERR_IO;
	buf_reset(b);
	(*nsync)++;
	return 0;
}

/*
 * Writes a batch of entries (and a drop notice first) with one write and
 * one fsync, except that a checkpoint is made exactly after every
 * checkpoint_records records, which splits the batch there.  *nwritten
 * counts the records made durable, *nsync the fsyncs.
 */
static int
batch_write(struct audit *a, struct audit_ent *list, uint64_t drops,
    uint64_t *nwritten, uint64_t *nsync)
{
	struct buf		 b;
	struct audit_ent	 d, *e;
	char			 rule[96];
	uint64_t		 n = 0;
	int			 rc = 0;

	buf_init(&b, 0);
	if (drops > 0) {
		memset(&d, 0, sizeof(d));
		snprintf(rule, sizeof(rule),
		    "audit queue full: %llu records dropped",
		    (unsigned long long)drops);
		d.time_us = time_real_us();
		d.rule = rule;
		d.decision = AUDIT_DENY;
		d.point = AUDIT_POINT_AUDIT;
		d.next = list;
		list = &d;
	}
	for (e = list; e != NULL; e = e->next) {
		a->seq++;
		if ((rc = audit_format_record(&b, a->seq, a->hash, e)) != 0)
			goto out;
		n++;
		if (++a->since_ckpt < a->opts.checkpoint_records)
			continue;
		if ((rc = batch_flush(a, &b, nsync)) != 0)
			goto out;
		*nwritten += n;
		n = 0;
		if ((rc = checkpoint_write(a)) != 0)
			goto out;
	}
	if ((rc = batch_flush(a, &b, nsync)) != 0)
		goto out;
	*nwritten += n;
out:
	buf_cleanup(&b);
	return rc;
}

static void *
audit_thread_main(void *arg)
{
	struct audit	*a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct audit_ent	*list, *e;
		uint64_t		 taken, drops, ckpt_gen, written = 0;
		uint64_t		 nsync = 0;
		bool			 stop, want_ckpt, failed;
		int			 rc = 0;

		while (a->q_head == NULL && a->drops_pending == 0 &&
		    !a->stopping && a->ckpt_asked == a->ckpt_made) {
			if (a->since_ckpt > 0 && !a->failed) {
				uint64_t due = a->last_ckpt_ms +
				    a->opts.checkpoint_ms;
				uint64_t now = time_mono_ms();
				struct timespec ts;

				if (now >= due)
					break;
				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += (time_t)((due - now) / 1000);
				ts.tv_nsec += (long)((due - now) % 1000) *
				    1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&a->wake, &a->mu, &ts);
			} else
				pthread_cond_wait(&a->wake, &a->mu);
		}
		list = a->q_head;
		taken = a->q_len;
		a->q_head = a->q_tail = NULL;
		a->q_len = 0;
		drops = a->drops_pending;
		a->drops_pending = 0;
		ckpt_gen = a->ckpt_asked;
		want_ckpt = ckpt_gen != a->ckpt_made;
		stop = a->stopping;
		failed = a->failed;
		pthread_mutex_unlock(&a->mu);

		if (!failed) {
			rc = batch_write(a, list, drops, &written, &nsync);
			if (rc == 0 && (want_ckpt || (a->since_ckpt > 0 &&
			    (stop || time_mono_ms() >= a->last_ckpt_ms +
			    a->opts.checkpoint_ms))))
				rc = checkpoint_write(a);
			if (rc != 0)
				log_errorx("audit: writing %s failed (%s); "
				    "the audit log is no longer written",
				    a->log_path, l_strerror(rc));
		}
		while ((e = list) != NULL) {
			list = e->next;
			free(e);
		}

		pthread_mutex_lock(&a->mu);
		if (rc != 0)
			a->failed = true;
		a->finished += taken;
		a->stats.written += written;
		a->stats.last_seq = a->seq;
		a->stats.checkpoints = a->ckpt_k;
		a->stats.failed = a->failed;
		a->stats.batches += nsync;
		a->ckpt_made = ckpt_gen;
		pthread_cond_broadcast(&a->done);
		if (stop && a->q_head == NULL && a->drops_pending == 0)
			break;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static void
audit_free(struct audit *a)
{
	struct audit_ent	*e;

	if (a == NULL)
		return;
	while ((e = a->q_head) != NULL) {
		a->q_head = e->next;
		free(e);
	}
	if (a->log_fd >= 0)
		close(a->log_fd);
	EVP_PKEY_free(a->key);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	free(a->log_path);
	free(a->head_path);
	free(a->head_tmp);
	free(a->dir);
	free(a);
}

/*
 * Loads the private key, or makes the key pair when there is no log yet.
 * Checks that audit.pub is the private key's public half.
 */
static int
audit_load_key(struct audit *a, bool log_exists, char *err, size_t errlen)
{
	char		*key_path = NULL, *pub_path = NULL;
	char		 fp1[HASH_HEX + 1], fp2[HASH_HEX + 1];
	EVP_PKEY	*pub = NULL;
	struct stat	 sb;
	int		 rc = L_ERR_NOMEM;

	if ((key_path = audit_path(a->dir, "audit.key")) == NULL ||
	    (pub_path = audit_path(a->dir, "audit.pub")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (stat(key_path, &sb) != 0) {
		if (log_exists) {
			snprintf(err, errlen, "%s exists but its key %s is "
			    "missing; refusing to start a new key", a->log_path,
			    key_path);
			rc = L_ERR_NOTFOUND;
			goto out;
		}
		if ((a->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) ==
		    NULL) {
			snprintf(err, errlen, "cannot make an Ed25519 key");
			rc = L_ERR_CRYPTO;
			goto out;
		}
		if ((rc = audit_key_write(key_path, 0600, a->key, true)) != 0 ||
		    (rc = audit_key_write(pub_path, 0644, a->key,
		    false)) != 0 ||
		    (rc = fsync_dir(a->dir)) != 0) {
			snprintf(err, errlen, "cannot write the audit key "
			    "in %s: %s", a->dir, strerror(errno));
			goto out;
		}
		if ((rc = audit_key_fingerprint(a->key, fp1)) != 0) {
			snprintf(err, errlen, "cannot read the new key");
			goto out;
		}
		log_info("audit: new signing key, public key sha256 %s", fp1);
		rc = 0;
		goto out;
	}
	if ((sb.st_mode & 077) != 0)
		log_warnx("audit: %s is readable by others (mode %03o)",
		    key_path, (unsigned)(sb.st_mode & 0777));
	if ((a->key = audit_key_read(key_path, true)) == NULL) {
		snprintf(err, errlen, "%s is not a readable Ed25519 key",
		    key_path);
		rc = L_ERR_CRYPTO;
		goto out;
	}
	if ((pub = audit_key_read(pub_path, false)) == NULL) {
		/* The public half can always be remade from the key. */
		if ((rc = audit_key_write(pub_path, 0644, a->key,
		    false)) != 0) {
			snprintf(err, errlen, "cannot write %s", pub_path);
			goto out;
		}
	} else if (audit_key_fingerprint(pub, fp1) != 0 ||
	    audit_key_fingerprint(a->key, fp2) != 0 || strcmp(fp1, fp2) != 0) {
		snprintf(err, errlen, "%s does not match %s", pub_path,
		    key_path);
		rc = L_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	free(key_path);
	free(pub_path);
	return rc;
}

/*
 * Brings an existing log to a state the writer can continue: verified,
 * an unfinished last line (after the last signed checkpoint) cut off, the
 * head caught up with the log.
 */
static int
audit_resume(struct audit *a, char *err, size_t errlen)
{
	struct audit_verify_result	r;
	struct audit_vstate			vs;
	int				rc;

	rc = audit_verify_run(a->dir, NULL, &r, &vs);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	if (rc == 1 && r.problem == AUDIT_P_TRUNCATED &&
	    vs.partial_at >= 0 && vs.partial_at >= vs.last_ckpt_end &&
	    vs.head_k <= vs.last_k && vs.last_k > 0) {
		log_warnx("audit: %s ends in an unfinished line (a crash "
		    "during a write); cutting it off", a->log_path);
		if (truncate(a->log_path, vs.partial_at) != 0) {
			snprintf(err, errlen, "cannot truncate %s: %s",
			    a->log_path, strerror(errno));
			return L_ERR_IO;
		}
		rc = audit_verify_run(a->dir, NULL, &r, &vs);
		if (rc < 0) {
			snprintf(err, errlen, "out of memory");
			return rc;
		}
	}
	if (rc == 1 && r.problem == AUDIT_P_HEAD && vs.head_missing &&
	    vs.last_k == 1 && vs.last_seq == 0)
		rc = 0;		/* creation stopped before the head */
	if (rc != 0) {
		snprintf(err, errlen, "audit log %s fails verification: %s "
		    "(line %llu, sequence %llu); move it aside to start a "
		    "new one", a->log_path, r.what, (unsigned long long)r.line,
		    (unsigned long long)r.seq);
		return L_ERR_DENIED;
	}
	a->seq = vs.last_seq;
	memcpy(a->hash, vs.last_hash, sizeof(a->hash));
	a->ckpt_k = vs.last_k;
	a->since_ckpt = vs.last_seq - vs.last_ckpt_seq;
	if (vs.head_missing || vs.head_k < vs.last_k) {
		/* Re-read the last checkpoint line and copy it to the head. */
		FILE	*f = fopen(a->log_path, "re");
		char	*line = NULL, *last = NULL;
		size_t	 cap = 0;
		ssize_t	 n;

		if (f == NULL) {
			snprintf(err, errlen, "cannot reopen %s", a->log_path);
			return L_ERR_IO;
		}
		while ((n = getline(&line, &cap, f)) > 0)
			if (line[0] == 'C') {
				free(last);
				if ((last = l_strdup(line)) == NULL)
					break;
			}
		fclose(f);
		free(line);
		if (last == NULL) {
			snprintf(err, errlen, "cannot find the last "
			    "checkpoint of %s", a->log_path);
			return L_ERR_IO;
		}
		rc = head_write(a, last, strlen(last));
		free(last);
		if (rc != 0) {
			snprintf(err, errlen, "cannot write %s", a->head_path);
			return rc;
		}
		log_warnx("audit: head file caught up with checkpoint %llu",
		    (unsigned long long)vs.last_k);
	}
	return 0;
}

struct audit *
audit_open(const char *dir, const struct audit_opts *opts, char *err,
    size_t errlen)
{
	struct audit		*a;
	pthread_condattr_t	 ca;
	struct stat		 sb;
	bool			 log_exists;
	int			 flags;

	if (dir == NULL || *dir == '\0') {
		snprintf(err, errlen, "no audit folder");
		return NULL;
	}
	if (opts != NULL && (opts->grants < AUDIT_GRANTS_OFF ||
	    opts->grants > AUDIT_GRANTS_ALL)) {
		snprintf(err, errlen, "bad grant recording mode %d",
		    opts->grants);
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->log_fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->done, NULL);
	if (opts != NULL)
		a->opts = *opts;
	if (a->opts.sample_every == 0)
		a->opts.sample_every = AUDIT_SAMPLE_EVERY_DEFAULT;
	if (a->opts.checkpoint_records == 0)
		a->opts.checkpoint_records = AUDIT_CHECKPOINT_RECORDS_DEFAULT;
	if (a->opts.checkpoint_ms == 0)
		a->opts.checkpoint_ms = AUDIT_CHECKPOINT_MS_DEFAULT;
	memcpy(a->hash, audit_zero_hash, sizeof(audit_zero_hash));

	if ((a->dir = l_strdup(dir)) == NULL ||
	    (a->log_path = audit_path(dir, "audit.log")) == NULL ||
	    (a->head_path = audit_path(dir, "audit.head")) == NULL ||
	    (a->head_tmp = audit_path(dir, "audit.head.tmp")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir_parents(dir, 0700) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	log_exists = stat(a->log_path, &sb) == 0;
	if (!log_exists && stat(a->head_path, &sb) == 0) {
		/* A head names checkpoints of a log that is gone: starting
		 * afresh would hide the removal. */
		snprintf(err, errlen, "%s is missing but %s exists: the audit "
		    "log was removed; restore it or move the folder aside",
		    a->log_path, a->head_path);
		goto fail;
	}
	if (audit_load_key(a, log_exists, err, errlen) != 0)
		goto fail;
	if (log_exists && audit_resume(a, err, errlen) != 0)
		goto fail;

	flags = O_WRONLY | O_APPEND | O_CLOEXEC | (log_exists ? 0 : O_CREAT);
	if ((a->log_fd = open(a->log_path, flags, 0640)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", a->log_path,
		    strerror(errno));
		goto fail;
	}
	if (!log_exists) {
		/* Checkpoint 1 signs the empty chain, so that the head
		 * exists from the start and no log is ever unsigned. */
		if (fsync_dir(a->dir) != 0 || checkpoint_write(a) != 0) {
			snprintf(err, errlen, "cannot write the first "
			    "checkpoint of %s: %s", a->log_path,
			    strerror(errno));
			goto fail;
		}
	}
	a->last_ckpt_ms = time_mono_ms();
	a->stats.last_seq = a->seq;
	if (pthread_create(&a->thread, NULL, audit_thread_main, a) != 0) {
		snprintf(err, errlen, "cannot start the audit writer");
		goto fail;
	}
	a->thread_started = true;
	return a;
fail:
	audit_free(a);
	return NULL;
}

int
audit_record(struct audit *a, const struct audit_event *ev)
{
	struct audit_ent	*e;
	char			*p;
	size_t			 sz, dlen = 0, i;
	int			 rc = 0;

	if (a == NULL || ev == NULL ||
	    (ev->decision != AUDIT_GRANT && ev->decision != AUDIT_DENY) ||
	    (int)ev->point < 0 || ev->point >= AUDIT_POINT_COUNT)
		return L_ERR_INVAL;
	if (ev->label_digest != NULL) {
		/* A digest and nothing else: this is what keeps a label
		 * payload out of the log. */
		dlen = strlen(ev->label_digest);
		if (dlen != 0 && dlen != HASH_HEX)
			return L_ERR_INVAL;
		for (i = 0; i < dlen; i++) {
			int c = (unsigned char)ev->label_digest[i];
			if (audit_hex_value(c >= 'A' && c <= 'F' ?
			    c + 32 : c) < 0)
				return L_ERR_INVAL;
		}
	}

	if (ev->decision == AUDIT_GRANT) {
		bool keep;

		pthread_mutex_lock(&a->mu);
		switch (a->opts.grants) {
		case AUDIT_GRANTS_ALL:
			keep = true;
			break;
		case AUDIT_GRANTS_SAMPLED:
			keep = a->grants_seen % a->opts.sample_every == 0;
			a->grants_seen++;
			break;
		default:
			keep = false;
			break;
		}
		if (!keep)
			a->stats.skipped++;
		pthread_mutex_unlock(&a->mu);
		if (!keep)
			return 0;
	}

	sz = sizeof(*e) + cut_len(ev->from, AUDIT_JID_MAX) +
	    cut_len(ev->to, AUDIT_JID_MAX) +
	    cut_len(ev->stanza_id, AUDIT_ID_MAX) +
	    cut_len(ev->marking, AUDIT_MARKING_MAX) +
	    cut_len(ev->rule, AUDIT_RULE_MAX) + 5;
	if ((e = malloc(sz)) == NULL)
		return L_ERR_NOMEM;
	memset(e, 0, sizeof(*e));
	e->time_us = time_real_us();
	e->session = ev->session;
	e->decision = ev->decision;
	e->point = ev->point;
	for (i = 0; i < dlen; i++) {
		int c = (unsigned char)ev->label_digest[i];
		e->digest[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
	}
	e->digest[dlen] = '\0';
	p = (char *)(e + 1);
	p = copy_cut(p, ev->from, AUDIT_JID_MAX, &e->from);
	p = copy_cut(p, ev->to, AUDIT_JID_MAX, &e->to);
	p = copy_cut(p, ev->stanza_id, AUDIT_ID_MAX, &e->id);
	p = copy_cut(p, ev->marking, AUDIT_MARKING_MAX, &e->marking);
	(void)copy_cut(p, ev->rule, AUDIT_RULE_MAX, &e->rule);

	pthread_mutex_lock(&a->mu);
	if (a->stopping)
		rc = L_ERR_CLOSED;
	else if (a->failed)
		rc = L_ERR_IO;
	else if (a->q_len >= AUDIT_QUEUE_MAX) {
		a->drops_pending++;
		a->stats.dropped++;
		rc = L_ERR_LIMIT;
	}
	if (rc == 0) {
		if (a->q_tail != NULL)
			a->q_tail->next = e;
		else
			a->q_head = e;
		a->q_tail = e;
		a->q_len++;
		a->enqueued++;
		a->stats.queued++;
		e = NULL;
		pthread_cond_signal(&a->wake);
	} else if (rc == L_ERR_LIMIT)
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	free(e);
	return rc;
}

int
audit_flush(struct audit *a)
{
	uint64_t	target;
	int		rc;

	if (a == NULL)
		return L_ERR_INVAL;
	pthread_mutex_lock(&a->mu);
	target = a->enqueued;
	pthread_cond_signal(&a->wake);
	while (a->finished < target || a->drops_pending > 0) {
		if (a->failed && a->finished >= target)
			break;
		pthread_cond_wait(&a->done, &a->mu);
	}
	rc = a->failed ? L_ERR_IO : 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_checkpoint(struct audit *a)
{
	uint64_t	gen;
	int		rc;

	if (a == NULL)
		return L_ERR_INVAL;
	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		return L_ERR_CLOSED;
	}
	gen = ++a->ckpt_asked;
	pthread_cond_signal(&a->wake);
	while (a->ckpt_made < gen)
		pthread_cond_wait(&a->done, &a->mu);
	rc = a->failed ? L_ERR_IO : 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_close(struct audit *a)
{
	int	rc;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	rc = a->failed ? L_ERR_IO : 0;
	if (a->log_fd >= 0 && close(a->log_fd) != 0)
		rc = L_ERR_IO;
	a->log_fd = -1;
	audit_free(a);
	return rc;
}

void
audit_get_stats(struct audit *a, struct audit_stats *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->stats;
	pthread_mutex_unlock(&a->mu);
}
