/*
 * liaison-bench: the scenarios and the command line.  Each scenario opens
 * its connections, measures, closes them, and prints a human line and a
 * machine line ("RESULT scenario=... server=... key=value ...").  Every
 * scenario is bounded by --duration and by counts; loads go to the address
 * given (loopback in practice).  See BENCHMARKS.md for how it is run.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

struct opts O = {
	.host = "127.0.0.1", .port = 5222, .domain = "localhost",
	.prefix = "bench", .fan_prefix = "fan", .password = "benchpass",
	.server = "server", .scenarios = "login,idle,throughput,latency,fanout",
	.users = 200, .nsrc = 8, .mech = MECH_AUTO, .duration = 10,
	.drain = 5, .sessions = 200, .pairs = 50, .window = 16, .rate = 2000,
	.size = 256, .concurrency = 64, .fan_users = 42, .fan_contacts = 20,
	.fan_rate = 100, .max_msgs = 20000000, .presence = true,
};
struct scram_cache *scram_caches;

static const uint64_t SEC = 1000000000ull;

/* The scenario's connections and the shared set-up bookkeeping. */
static struct conn **C;
static int NC;
static int setup_next, setup_pending, setup_ready, setup_failed, dropped;
static const char *setup_prefix;
static const struct conn_ops *setup_ops;

static void
setup_pump(void)
{
	while (setup_pending < O.concurrency && setup_next < NC) {
		int i = setup_next++;
		C[i] = conn_open(i, setup_prefix, i, setup_ops);
		if (C[i])
			setup_pending++;
		else
			setup_failed++;
	}
}

static void
on_ready_common(struct conn *c)
{
	setup_pending--;
	setup_ready++;
	setup_pump();
}

static void
on_closed_common(struct conn *c, bool was_ready)
{
	if (c->slot >= 0 && c->slot < NC && C[c->slot] == c)
		C[c->slot] = NULL;
	if (was_ready) {
		dropped++;
		return;
	}
	setup_pending--;
	setup_failed++;
	setup_pump();
}

static bool
setup_done(void)
{
	return setup_ready + setup_failed >= NC;
}

/* Opens n sessions of prefix<0..n-1>; returns how many are ready. */
static int
sessions_open(int n, const char *prefix, const struct conn_ops *ops)
{
	free(C);
	C = calloc((size_t)n, sizeof *C);
	NC = n;
	setup_next = setup_pending = setup_ready = setup_failed = dropped = 0;
	setup_prefix = prefix;
	setup_ops = ops;
	relay_next_base();
	setup_pump();
	double limit = 30 + n / 20.0;
	loop_run(now_ns() + (uint64_t)(limit * SEC), setup_done, NULL);
	return setup_ready;
}

static void
sessions_close(void)
{
	for (int i = 0; i < NC; i++)
		if (C[i]) {
			struct conn *c = C[i];
			C[i] = NULL;
			c->slot = -1;
			conn_close(c);
		}
	loop_run(now_ns() + SEC / 5, NULL, NULL);
}

static void
settle(double s)
{
	loop_run(now_ns() + (uint64_t)(s * SEC), NULL, NULL);
}

static void
result(const char *scenario, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
result(const char *scenario, const char *fmt, ...)
{
	va_list ap;
	printf("RESULT scenario=%s server=%s ", scenario, O.server);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Messages.  The body carries "T<ns>:<sender slot>:" then padding, so the
 * receiver knows the send time and whom to credit. */

static char pad[65536];
static int pad_len;
static bool sending;
static long m_sent, m_recv, m_err, m_limit;
static struct lat m_lat;
static bool m_labelled;

static void
msg_send(struct conn *c, uint64_t ts)
{
	int peer = c->slot ^ 1;
	conn_sendf(c, "<message to='%s%d@%s' type='chat' id='m%ld'>"
	    "<body>T%llu:%d:%.*s</body>%s</message>", O.prefix, peer, O.domain,
	    c->sent, (unsigned long long)ts, c->slot, pad_len, pad,
	    m_labelled && O.label_xml ? O.label_xml : "");
	c->sent++;
	c->inflight++;
	m_sent++;
}

static void
msg_refill(struct conn *c)
{
	while (sending && c->st == CS_READY && c->inflight < O.window &&
	    m_sent < m_limit)
		msg_send(c, now_ns());
}

static bool open_loop;

static void
msg_stanza(struct conn *c, const char *el, size_t len)
{
	if (!el_is(el, len, "message"))
		return;
	const char *t;
	size_t tl;
	char type[16] = "";
	el_attr(el, len, "type", type, sizeof type);
	if (!el_child_text(el, len, "body", &t, &tl) || tl < 2 || t[0] != 'T')
		return;
	char *e;
	unsigned long long ts = strtoull(t + 1, &e, 10);
	int from = (int)strtol(e + 1, NULL, 10);
	if (strcmp(type, "error") == 0) {
		m_err++;
		from = c->slot;	/* bounced back to its sender */
	} else {
		m_recv++;
		c->recv++;
		uint64_t now = now_ns();
		lat_add(&m_lat, now > ts ? now - ts : 0);
	}
	if (from >= 0 && from < NC && C[from]) {
		C[from]->inflight--;
		if (!open_loop)
			msg_refill(C[from]);
	}
}

static const struct conn_ops msg_ops = {
	on_ready_common, msg_stanza, on_closed_common,
};

static bool
msgs_drained(void)
{
	return m_recv + m_err >= m_sent;
}

static void
pad_init(void)
{
	/* Roughly --size bytes per stanza as the sender writes it. */
	int overhead = 110 + (int)strlen(O.prefix) + (int)strlen(O.domain);
	pad_len = O.size - overhead;
	if (pad_len < 0)
		pad_len = 0;
	if (pad_len > (int)sizeof pad)
		pad_len = sizeof pad;
	for (int i = 0; i < pad_len; i++)
		pad[i] = (char)('a' + i % 26);
}

static int
msg_setup(const char *name)
{
	int n = 2 * O.pairs;
	if (n > O.users && !O.relay_host)
		n = O.users & ~1;
	m_sent = m_recv = m_err = 0;
	lat_free(&m_lat);
	int ready = sessions_open(n, O.prefix, &msg_ops);
	if (ready < n) {
		printf("%-20s %d of %d sessions failed to log in\n", name,
		    n - ready, n);
	}
	settle(0.5);
	return ready;
}

static void
scenario_throughput(const char *name)
{
	if (msg_setup(name) < 2) {
		result(name, "status=failed");
		return;
	}
	open_loop = false;
	m_limit = O.max_msgs;
	sending = true;
	uint64_t t0 = now_ns();
	for (int i = 0; i < NC; i++)
		if (C[i])
			msg_refill(C[i]);
	loop_run(t0 + (uint64_t)(O.duration * SEC), NULL, NULL);
	sending = false;
	uint64_t t1 = now_ns();
	long recv_in_window = m_recv;
	loop_run(t1 + (uint64_t)(O.drain * SEC), msgs_drained, NULL);
	double secs = (double)(t1 - t0) / 1e9;
	long lost = m_sent - m_recv;
	double rate = recv_in_window / secs;
	printf("%-20s %-10s %10.0f msg/s  sent %ld  received %ld  lost %ld"
	    " (errors %ld)  p50 %.0f us  p99 %.0f us  [%d pairs, window %d]\n",
	    name, O.server, rate, m_sent, m_recv, lost, m_err,
	    lat_pct(&m_lat, 0.5), lat_pct(&m_lat, 0.99), NC / 2, O.window);
	result(name, "msgs_per_s=%.0f sent=%ld received=%ld lost=%ld errors=%ld"
	    " p50_us=%.0f p99_us=%.0f pairs=%d window=%d size=%d duration_s=%.1f"
	    " dropped=%d", rate, m_sent, m_recv, lost, m_err,
	    lat_pct(&m_lat, 0.5), lat_pct(&m_lat, 0.99), NC / 2, O.window, O.size,
	    secs, dropped);
	sessions_close();
}

static uint64_t ol_t0, ol_end;

static void
latency_tick(void)
{
	uint64_t now = now_ns();
	if (!sending)
		return;
	if (now >= ol_end) {
		sending = false;
		return;
	}
	long due = (long)((double)(now - ol_t0) * O.rate / 1e9) + 1;
	while (m_sent < due && m_sent < m_limit) {
		/* The stamp is the scheduled time: a late send counts. */
		uint64_t ts = ol_t0 + (uint64_t)((double)m_sent * 1e9 / O.rate);
		struct conn *c = C[m_sent % NC];
		if (c && c->st == CS_READY)
			msg_send(c, ts);
		else
			m_sent++;	/* a dead sender's share is lost */
	}
	tick_next = ol_t0 + (uint64_t)((double)m_sent * 1e9 / O.rate);
}

static bool
latency_done(void)
{
	return !sending;
}

static void
scenario_latency(const char *name)
{
	if (msg_setup(name) < 2) {
		result(name, "status=failed");
		return;
	}
	open_loop = true;
	m_limit = (long)(O.rate * O.duration) + 1;
	if (m_limit > O.max_msgs)
		m_limit = O.max_msgs;
	sending = true;
	ol_t0 = now_ns();
	ol_end = ol_t0 + (uint64_t)(O.duration * SEC);
	loop_run(ol_end + SEC, latency_done, latency_tick);
	uint64_t t1 = now_ns();
	loop_run(t1 + (uint64_t)(O.drain * SEC), msgs_drained, NULL);
	long lost = m_sent - m_recv;
	double p50 = lat_pct(&m_lat, 0.5), p99 = lat_pct(&m_lat, 0.99);
	double p999 = lat_pct(&m_lat, 0.999), mx = lat_pct(&m_lat, 1.0);
	printf("%-20s %-10s offered %d msg/s  p50 %.0f us  p99 %.0f us"
	    "  p99.9 %.0f us  max %.0f us  sent %ld  received %ld  lost %ld\n",
	    name, O.server, O.rate, p50, p99, p999, mx, m_sent, m_recv, lost);
	result(name, "rate=%d p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f"
	    " sent=%ld received=%ld lost=%ld errors=%ld pairs=%d size=%d"
	    " duration_s=%.1f", O.rate, p50, p99, p999, mx, m_sent, m_recv, lost,
	    m_err, NC / 2, O.size, O.duration);
	sessions_close();
}

/* Login storm: closed loop at a fixed number of logins in flight; each
 * level runs a third of --duration and the best level is the saturation
 * figure. */

static long lg_ok, lg_fail, lg_next_user;
static int lg_inflight, lg_level;
static bool lg_open;
static struct lat lg_lat;

static void lg_pump(void);

static void
lg_ready(struct conn *c)
{
	lg_ok++;
	lg_inflight--;
	lat_add(&lg_lat, now_ns() - c->t_start);
	conn_close(c);
	lg_pump();
}

static void
lg_stanza(struct conn *c, const char *el, size_t len)
{
}

static void
lg_closed(struct conn *c, bool was_ready)
{
	if (!was_ready) {
		lg_fail++;
		lg_inflight--;
		lg_pump();
	}
}

static const struct conn_ops lg_ops = { lg_ready, lg_stanza, lg_closed };

static void
lg_pump(void)
{
	while (lg_open && lg_inflight < lg_level) {
		int u = (int)(lg_next_user++ % O.users);
		if (conn_open(u, O.prefix, -1, &lg_ops))
			lg_inflight++;
		else
			lg_fail++;
	}
}

static bool
lg_idle(void)
{
	return lg_inflight == 0;
}

static void
scenario_login(const char *name)
{
	int levels[3] = { 4, 16, O.concurrency };
	double best = 0;
	long fails = 0, total = 0;
	char steps[256] = "";
	bool saved = O.presence;
	for (int l = 0; l < 3; l++) {
		if (l > 0 && levels[l] <= levels[l - 1])
			continue;
		lg_level = levels[l];
		lg_ok = lg_fail = 0;
		lat_free(&lg_lat);
		lg_open = true;
		uint64_t t0 = now_ns();
		lg_pump();
		loop_run(t0 + (uint64_t)(O.duration / 3 * SEC), NULL, NULL);
		lg_open = false;
		double secs = (double)(now_ns() - t0) / 1e9;
		long ok_in_window = lg_ok;
		loop_run(now_ns() + 5 * SEC, lg_idle, NULL);
		double rate = ok_in_window / secs;
		if (rate > best)
			best = rate;
		fails += lg_fail;
		total += lg_ok;
		printf("%-20s %-10s %8.0f logins/s at %3d in flight  failures %ld"
		    "  p50 %.1f ms  p99 %.1f ms\n", name, O.server, rate, lg_level,
		    lg_fail, lat_pct(&lg_lat, 0.5) / 1000, lat_pct(&lg_lat, 0.99) / 1000);
		size_t sl = strlen(steps);
		snprintf(steps + sl, sizeof steps - sl, "%s%d:%.0f", sl ? "," : "",
		    lg_level, rate);
	}
	O.presence = saved;
	result(name, "logins_per_s=%.0f failures=%ld logins=%ld levels=%s"
	    " mech=%s", best, fails, total, steps, mech_name(O.mech));
}

/* Idle sessions: the server's RSS growth per authenticated TLS session. */

static void
idle_stanza(struct conn *c, const char *el, size_t len)
{
}

static const struct conn_ops idle_ops = {
	on_ready_common, idle_stanza, on_closed_common,
};

static void
scenario_idle(const char *name)
{
	int n = O.sessions < O.users ? O.sessions : O.users;
	settle(1);	/* let the previous step's garbage go before the baseline */
	long base = O.server_pid ? server_rss_kb(O.server_pid) : -1;
	uint64_t t0 = now_ns();
	int ready = sessions_open(n, O.prefix, &idle_ops);
	double secs = (double)(now_ns() - t0) / 1e9;
	settle(2);
	long after = O.server_pid ? server_rss_kb(O.server_pid) : -1;
	double per = (base >= 0 && after >= 0 && ready > 0) ?
	    (double)(after - base) / ready : -1;
	printf("%-20s %-10s %d sessions held (%d failed) in %.1f s;"
	    " server RSS %ld -> %ld KB: %.1f KB per session\n", name, O.server,
	    ready, n - ready, secs, base, after, per);
	result(name, "sessions=%d failed=%d rss_base_kb=%ld rss_kb=%ld"
	    " kb_per_session=%.1f setup_s=%.1f", ready, n - ready, base, after,
	    per, secs);
	sessions_close();
}

/* Presence fan-out: F users, each with the 20 nearest users of a ring as
 * contacts (subscription both), provisioned by the bench itself through
 * the subscription handshake when the rosters are short. */

static long f_roster_min, f_roster_sum, f_roster_replies, f_sub_traffic;
static long f_deliv;
static struct lat f_lat;
static uint64_t f_last_pres;

static int
ring_dist(int a, int b)
{
	int d = ((b - a) % NC + NC) % NC;
	return d;
}

static void
fan_stanza(struct conn *c, const char *el, size_t len)
{
	if (el_is(el, len, "iq")) {
		char id[16] = "";
		el_attr(el, len, "id", id, sizeof id);
		if (strcmp(id, "r1") == 0) {
			long n = 0;
			const char *p = el, *end = el + len;
			while ((p = memmem(p, (size_t)(end - p), "subscription=", 13))) {
				p += 13;
				if (end - p > 5 && memcmp(p + 1, "both", 4) == 0)
					n++;
			}
			if (getenv("BENCH_DEBUG"))
				fprintf(stderr, "roster %d: %.*s\n", c->slot, (int)len, el);
			if (n < f_roster_min)
				f_roster_min = n;
			f_roster_sum += n;
			f_roster_replies++;
		}
		return;
	}
	if (!el_is(el, len, "presence"))
		return;
	char type[24] = "", from[256] = "";
	el_attr(el, len, "type", type, sizeof type);
	el_attr(el, len, "from", from, sizeof from);
	f_last_pres = now_ns();
	if (type[0]) {
		if (strcmp(type, "subscribe") != 0)
			return;
		/* from = fan<j>@domain: approve, and subscribe back when the
		 * request was the first of the pair. */
		size_t pl = strlen(O.fan_prefix);
		if (strncmp(from, O.fan_prefix, pl) != 0)
			return;
		int j = atoi(from + pl);
		char *at = strchr(from, '@');
		if (at)
			*at = 0;
		f_sub_traffic++;
		conn_sendf(c, "<presence type='subscribed' to='%s@%s'/>", from,
		    O.domain);
		int d = ring_dist(j, c->slot);
		if (d >= 1 && d <= O.fan_contacts / 2)
			conn_sendf(c, "<presence type='subscribe' to='%s@%s'/>", from,
			    O.domain);
		return;
	}
	const char *t;
	size_t tl;
	if (!el_child_text(el, len, "status", &t, &tl) || tl < 2 || t[0] != 'T')
		return;
	char *e;
	unsigned long long ts = strtoull(t + 1, &e, 10);
	int s = (int)strtol(e + 1, NULL, 10);
	if (s == c->slot)
		return;
	f_deliv++;
	uint64_t now = now_ns();
	lat_add(&f_lat, now > ts ? now - ts : 0);
}

static const struct conn_ops fan_ops = {
	on_ready_common, fan_stanza, on_closed_common,
};

static void
fan_rosters(void)
{
	f_roster_min = 1 << 30;
	f_roster_sum = f_roster_replies = 0;
	for (int i = 0; i < NC; i++)
		if (C[i])
			conn_sendf(C[i], "<iq type='get' id='r1'><query xmlns="
			    "'jabber:iq:roster'/></iq>");
	uint64_t end = now_ns() + 10 * SEC;
	while (f_roster_replies < setup_ready && now_ns() < end)
		loop_run(now_ns() + SEC / 20, NULL, NULL);
}

static bool
fan_quiet(void)
{
	return now_ns() - f_last_pres > SEC;
}

static int f_rate_sent;

static void
fan_tick(void)
{
	uint64_t now = now_ns();
	if (!sending)
		return;
	if (now >= ol_end) {
		sending = false;
		return;
	}
	long due = (long)((double)(now - ol_t0) * O.fan_rate / 1e9) + 1;
	while (f_rate_sent < due) {
		uint64_t ts = ol_t0 + (uint64_t)((double)f_rate_sent * 1e9 /
		    O.fan_rate);
		int slot = f_rate_sent % NC;
		f_rate_sent++;
		if (C[slot])
			conn_sendf(C[slot], "<presence><show>%s</show><status>T%llu:%d:"
			    "</status></presence>", f_rate_sent & 1 ? "away" : "chat",
			    (unsigned long long)ts, slot);
	}
	tick_next = ol_t0 + (uint64_t)((double)f_rate_sent * 1e9 /
	    O.fan_rate);
}

static bool
fan_delivered(void)
{
	return f_deliv >= (long)f_rate_sent * O.fan_contacts;
}

static void
scenario_fanout(const char *name)
{
	int n = O.fan_users;
	if (n < O.fan_contacts + 1) {
		result(name, "status=skipped reason=fan_users_below_contacts");
		return;
	}
	int ready = sessions_open(n, O.fan_prefix, &fan_ops);
	if (ready < n) {
		printf("%-20s %d of %d sessions failed to log in\n", name, n - ready,
		    n);
		result(name, "status=failed ready=%d", ready);
		sessions_close();
		return;
	}
	f_last_pres = now_ns();
	loop_run(now_ns() + 10 * SEC, fan_quiet, NULL);
	fan_rosters();
	/* A few rounds: a slow server may still be writing rosters when the
	 * presence traffic pauses. */
	for (int round = 0; round < 3 && f_roster_min < O.fan_contacts; round++) {
		printf("%-20s provisioning rosters of %d (smallest was %ld)\n", name,
		    O.fan_contacts, f_roster_min);
		for (int i = 0; i < NC; i++)
			for (int k = 1; k <= O.fan_contacts / 2 && C[i]; k++)
				conn_sendf(C[i], "<presence type='subscribe' to='%s%d@%s'/>",
				    O.fan_prefix, (i + k) % NC, O.domain);
		f_last_pres = now_ns();
		loop_run(now_ns() + 30 * SEC, fan_quiet, NULL);
		fan_rosters();
	}
	long rmin = f_roster_min;
	double ravg = f_roster_replies ? (double)f_roster_sum / f_roster_replies : 0;
	f_last_pres = now_ns();
	loop_run(now_ns() + 10 * SEC, fan_quiet, NULL);

	f_deliv = 0;
	f_rate_sent = 0;
	lat_free(&f_lat);
	sending = true;
	ol_t0 = now_ns();
	ol_end = ol_t0 + (uint64_t)(O.duration * SEC);
	loop_run(ol_end + SEC, latency_done, fan_tick);
	loop_run(now_ns() + (uint64_t)(O.drain * SEC), fan_delivered, NULL);
	long expect = (long)f_rate_sent * rmin;
	double secs = O.duration;
	printf("%-20s %-10s %d broadcasts/s x %ld contacts: %.0f deliveries/s"
	    "  expected %ld  delivered %ld  lost %ld  p50 %.0f us  p99 %.0f us"
	    "  p99.9 %.0f us\n", name, O.server, O.fan_rate, rmin,
	    f_deliv / secs, expect, f_deliv, expect - f_deliv,
	    lat_pct(&f_lat, 0.5), lat_pct(&f_lat, 0.99), lat_pct(&f_lat, 0.999));
	result(name, "broadcasts_per_s=%d roster_min=%ld roster_avg=%.1f"
	    " deliveries_per_s=%.0f expected=%ld delivered=%ld lost=%ld"
	    " p50_us=%.0f p99_us=%.0f p999_us=%.0f users=%d", O.fan_rate, rmin,
	    ravg, f_deliv / secs, expect, f_deliv, expect - f_deliv,
	    lat_pct(&f_lat, 0.5), lat_pct(&f_lat, 0.99), lat_pct(&f_lat, 0.999),
	    n);
	sessions_close();
}

/* Accounts for the peers: XEP-0077 registration of P0..P<users-1> and
 * the fan-out users (Liaison's accounts come from liaisonctl). */
static void
reg_ready(struct conn *c)
{
	on_ready_common(c);
	C[c->slot] = NULL;
	c->slot = -1;
	conn_close(c);
}

static const struct conn_ops reg_ops = {
	reg_ready, idle_stanza, on_closed_common,
};

static void
scenario_register(const char *name)
{
	bool saved = O.presence;
	O.registering = true;
	O.presence = false;
	int a = sessions_open(O.users, O.prefix, &reg_ops);
	int b = sessions_open(O.fan_users, O.fan_prefix, &reg_ops);
	O.registering = false;
	O.presence = saved;
	printf("%-20s %-10s %d of %d %s* and %d of %d %s* accounts ready\n",
	    name, O.server, a, O.users, O.prefix, b, O.fan_users, O.fan_prefix);
	result(name, "accounts=%d failed=%d", a + b, O.users + O.fan_users - a - b);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *s = calloc(1, 65537);
	size_t n = s ? fread(s, 1, 65536, f) : 0;
	fclose(f);
	if (!s)
		return NULL;
	s[n] = 0;
	/* One line: the label goes inside the message. */
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	char *x = strstr(s, "<?xml");
	if (x) {
		char *e = strstr(x, "?>");
		if (e)
			memset(x, ' ', (size_t)(e + 2 - x));
	}
	return s;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: liaison-bench [options]\n"
"  --host ADDR --port N        server (default 127.0.0.1:5222)\n"
"  --domain NAME               XMPP domain (default localhost)\n"
"  --user-prefix P --fan-prefix P --password PW\n"
"                              accounts P0..P<n-1> (bench, fan, benchpass)\n"
"  --users N                   accounts available for P (default 200)\n"
"  --server NAME               label for RESULT lines\n"
"  --scenarios LIST            register,login,idle,throughput,latency,\n"
"                              fanout,labelled (register: XEP-0077)\n"
"  --duration S --drain S      per scenario (10, 5)\n"
"  --sessions N                idle sessions (200)\n"
"  --pairs N --window N        1:1 pairs, messages in flight per sender\n"
"  --rate N                    offered messages/s for latency (2000)\n"
"  --size N                    stanza size in bytes (256)\n"
"  --concurrency N             logins in flight, max (64)\n"
"  --fan-users N --fan-contacts N --fan-rate N   (42, 20, 100)\n"
"  --mech auto|scram-sha-256|scram-sha-1|plain\n"
"  --src-addrs N               source addresses 127.0.0.1..N (8)\n"
"  --server-pid PID            for RSS per idle session\n"
"  --label-file F              XEP-0258 <securitylabel/> for 'labelled'\n"
"  --relay ADDR:PORT           raw TLS relay mode (bench-relay): ceiling\n"
"  --max-msgs N --no-presence --quiet\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"domain", 1, 0, 'd'},
		{"user-prefix", 1, 0, 'u'}, {"fan-prefix", 1, 0, 'F'},
		{"password", 1, 0, 'P'}, {"users", 1, 0, 'U'}, {"server", 1, 0, 'S'},
		{"scenarios", 1, 0, 's'}, {"duration", 1, 0, 't'},
		{"drain", 1, 0, 'D'}, {"sessions", 1, 0, 'n'}, {"pairs", 1, 0, 'r'},
		{"window", 1, 0, 'w'}, {"rate", 1, 0, 'R'}, {"size", 1, 0, 'z'},
		{"concurrency", 1, 0, 'c'}, {"fan-users", 1, 0, 'f'},
		{"fan-contacts", 1, 0, 'k'}, {"fan-rate", 1, 0, 'K'},
		{"mech", 1, 0, 'm'}, {"src-addrs", 1, 0, 'a'},
		{"server-pid", 1, 0, 'i'}, {"label-file", 1, 0, 'l'},
		{"relay", 1, 0, 'y'}, {"max-msgs", 1, 0, 'M'},
		{"no-presence", 0, 0, 'N'}, {"quiet", 0, 0, 'q'},
		{"help", 0, 0, '?'}, {0, 0, 0, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': O.host = optarg; break;
		case 'p': O.port = atoi(optarg); break;
		case 'd': O.domain = optarg; break;
		case 'u': O.prefix = optarg; break;
		case 'F': O.fan_prefix = optarg; break;
		case 'P': O.password = optarg; break;
		case 'U': O.users = atoi(optarg); break;
		case 'S': O.server = optarg; break;
		case 's': O.scenarios = optarg; break;
		case 't': O.duration = atof(optarg); break;
		case 'D': O.drain = atof(optarg); break;
		case 'n': O.sessions = atoi(optarg); break;
		case 'r': O.pairs = atoi(optarg); break;
		case 'w': O.window = atoi(optarg); break;
		case 'R': O.rate = atoi(optarg); break;
		case 'z': O.size = atoi(optarg); break;
		case 'c': O.concurrency = atoi(optarg); break;
		case 'f': O.fan_users = atoi(optarg); break;
		case 'k': O.fan_contacts = atoi(optarg); break;
		case 'K': O.fan_rate = atoi(optarg); break;
		case 'a': O.nsrc = atoi(optarg); break;
		case 'i': O.server_pid = (pid_t)atoi(optarg); break;
		case 'l': O.label_file = optarg; break;
		case 'M': O.max_msgs = atol(optarg); break;
		case 'N': O.presence = false; break;
		case 'q': O.quiet = true; break;
		case 'm':
			if (strcasecmp(optarg, "scram-sha-256") == 0)
				O.mech = MECH_SCRAM_SHA256;
			else if (strcasecmp(optarg, "scram-sha-1") == 0)
				O.mech = MECH_SCRAM_SHA1;
			else if (strcasecmp(optarg, "plain") == 0)
				O.mech = MECH_PLAIN;
			else
				O.mech = MECH_AUTO;
			break;
		case 'y': {
			static char host[64];
			const char *colon = strrchr(optarg, ':');
			if (!colon || (size_t)(colon - optarg) >= sizeof host)
				usage();
			memcpy(host, optarg, (size_t)(colon - optarg));
			host[colon - optarg] = 0;
			O.relay_host = host;
			O.relay_port = atoi(colon + 1);
			break;
		}
		default: usage();
		}
	}
	/* Every load is bounded in time and count. */
	if (O.duration <= 0 || O.duration > 600 || O.drain < 0 || O.drain > 60 ||
	    O.users < 2 || O.users > 200000 || O.pairs < 1 || O.window < 1 ||
	    O.rate < 1 || O.rate > 1000000 || O.concurrency < 1 || O.nsrc < 1 ||
	    O.nsrc > 250 || O.size < 0 || O.sessions < 1 || O.fan_users < 2 ||
	    O.fan_contacts < 2 || O.fan_rate < 1 || O.max_msgs < 1)
		usage();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (O.label_file) {
		O.label_xml = read_file(O.label_file);
		if (!O.label_xml) {
			fprintf(stderr, "liaison-bench: cannot read %s\n", O.label_file);
			return 2;
		}
	}
	int nu = O.users > O.fan_users ? O.users : O.fan_users;
	if (nu < 2 * O.pairs)
		nu = 2 * O.pairs;
	if (nu < O.sessions)
		nu = O.sessions;
	scram_caches = calloc(2 * (size_t)nu, sizeof *scram_caches);
	loop_init();
	pad_init();

	int failed = 0;
	char *list = strdup(O.scenarios);
	for (char *save = NULL, *s = strtok_r(list, ",", &save); s;
	    s = strtok_r(NULL, ",", &save)) {
		if (O.relay_host && strcmp(s, "throughput") != 0 &&
		    strcmp(s, "latency") != 0) {
			result(s, "status=not_applicable");
			continue;
		}
		if (strcmp(s, "login") == 0) {
			scenario_login(s);
		} else if (strcmp(s, "register") == 0) {
			scenario_register(s);
		} else if (strcmp(s, "idle") == 0) {
			scenario_idle(s);
		} else if (strcmp(s, "throughput") == 0) {
			m_labelled = false;
			scenario_throughput(s);
		} else if (strcmp(s, "latency") == 0) {
			m_labelled = false;
			scenario_latency(s);
		} else if (strcmp(s, "fanout") == 0) {
			scenario_fanout(s);
		} else if (strcmp(s, "labelled") == 0) {
			if (!O.label_xml) {
				result("throughput_labelled", "status=skipped"
				    " reason=no_label_file");
				continue;
			}
			m_labelled = true;
			scenario_throughput("throughput_labelled");
			scenario_latency("latency_labelled");
			m_labelled = false;
		} else {
			fprintf(stderr, "liaison-bench: unknown scenario %s\n", s);
			failed = 1;
		}
	}
	long opened, lfail;
	conn_stats(&opened, &lfail);
	printf("connections opened %ld, login failures %ld\n", opened, lfail);
	free(list);
	free(C);
	free(scram_caches);
	free(O.label_xml);
	return failed;
}
