/* Clocks and XEP-0082 timestamps; see timeutil.h. */
#include "base/timeutil.h"
#include "base/errors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

uint64_t
time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t
time_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
time_format_xep82(int64_t real_us, char out[32])
{
	time_t sec = (time_t)(real_us / 1000000);
	struct tm tm;
	char tmp[24];

	gmtime_r(&sec, &tm);
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", tmp, (int)((real_us / 1000) % 1000));
}

static int
digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

int
time_parse_xep82(const char *s, int64_t *real_us)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, us = 0, off = 0;

	memset(&tm, 0, sizeof tm);
	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d) || *s++ != 'T' ||
	    digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) ||
	    *s++ != ':' || digits(&s, 2, &sec))
		return L_ERR_INVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return L_ERR_INVAL;
	if (*s == '.') {
		int scale = 100000;

		s++;
		if (!isdigit((unsigned char)*s))
			return L_ERR_INVAL;
		while (isdigit((unsigned char)*s)) {
			us += (*s - '0') * scale;
			scale /= 10;
			s++;
		}
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, oh, om;

		s++;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om))
			return L_ERR_INVAL;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return L_ERR_INVAL;
	}
	if (*s != '\0')
		return L_ERR_INVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*real_us = ((int64_t)timegm(&tm) - off) * 1000000 + us;
	return L_OK;
}
