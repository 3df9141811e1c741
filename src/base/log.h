/*
 * Logging.  The level is checked before any formatting, so a disabled
 * debug line costs one comparison.  Every line may carry a session id
 * (0 = none).  Never pass a message body, password, key or label payload.
 * log_warn/log_error append strerror(errno); the *x variants do not
 * (OpenBSD style).  fatal/fatalx exit the process: start-up only.
 */
#ifndef LIAISON_BASE_LOG_H
#define LIAISON_BASE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

extern int log_level_current;

void log_set_level(enum log_level lvl);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);
/* Sends log lines to stderr (default) or to a file opened for append. */
int log_open_file(const char *path);

void log_write(enum log_level lvl, uint64_t sid, bool with_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define LOG_AT(lvl, sid, err, ...) do { \
	if ((int)(lvl) <= log_level_current) \
		log_write((lvl), (sid), (err), __VA_ARGS__); \
} while (0)

#define log_error(...)	LOG_AT(LOG_LVL_ERROR, 0, true, __VA_ARGS__)
#define log_errorx(...)	LOG_AT(LOG_LVL_ERROR, 0, false, __VA_ARGS__)
#define log_warn(...)	LOG_AT(LOG_LVL_WARN, 0, true, __VA_ARGS__)
#define log_warnx(...)	LOG_AT(LOG_LVL_WARN, 0, false, __VA_ARGS__)
#define log_info(...)	LOG_AT(LOG_LVL_INFO, 0, false, __VA_ARGS__)
#define log_debug(...)	LOG_AT(LOG_LVL_DEBUG, 0, false, __VA_ARGS__)
/* Same, for a line about one session. */
#define slog_warnx(sid, ...)	LOG_AT(LOG_LVL_WARN, (sid), false, __VA_ARGS__)
#define slog_info(sid, ...)	LOG_AT(LOG_LVL_INFO, (sid), false, __VA_ARGS__)
#define slog_debug(sid, ...)	LOG_AT(LOG_LVL_DEBUG, (sid), false, __VA_ARGS__)

#endif
