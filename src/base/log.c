/* Log sink: timestamped lines to stderr or a file, level checked by macro. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int log_level_current = LOG_LVL_INFO;
static FILE *log_fp;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level lvl)
{
	log_level_current = (int)lvl;
}

int
log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

int
log_open_file(const char *path)
{
	FILE *fp = fopen(path, "a");

	if (fp == NULL)
		return -1;
	setvbuf(fp, NULL, _IOLBF, 0);
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = fp;
	return 0;
}

static void
vlog(enum log_level lvl, uint64_t sid, int err, const char *fmt, va_list ap)
{
	FILE *fp = log_fp ? log_fp : stderr;
	char ts[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(fp);
	fprintf(fp, "%s.%03ldZ %s ", ts, now.tv_nsec / 1000000,
	    level_names[lvl < 0 || lvl > 3 ? 0 : lvl]);
	if (sid != 0)
		fprintf(fp, "[s%llu] ", (unsigned long long)sid);
	vfprintf(fp, fmt, ap);
	if (err != 0)
		fprintf(fp, ": %s", strerror(err));
	fputc('\n', fp);
	funlockfile(fp);
}

void
log_write(enum log_level lvl, uint64_t sid, bool with_errno,
    const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, sid, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
