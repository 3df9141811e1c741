/* Clocks and XEP-0082 date-time formatting. */
#ifndef LIAISON_BASE_TIMEUTIL_H
#define LIAISON_BASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds, for timers and budgets. */
uint64_t time_mono_ms(void);
/* Monotonic nanoseconds, for benchmarks. */
uint64_t time_mono_ns(void);
/* Wall-clock microseconds since the epoch, for stamps. */
int64_t time_real_us(void);
/* Writes an XEP-0082 DateTime, UTC, millisecond precision:
 * "2026-01-15T10:30:00.123Z". out must hold 32 bytes. */
void time_format_xep82(int64_t real_us, char out[32]);
/* Parses an XEP-0082 / xs:dateTime (with Z or +hh:mm, optional fraction)
 * into microseconds since the epoch. Returns 0 or L_ERR_INVAL. */
int time_parse_xep82(const char *s, int64_t *real_us);

#endif
