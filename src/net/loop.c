/*
 * The event loop: epoll (level-triggered), a min-heap of one-shot timers
 * kept in a slab so handles stay safe after a timer fired, an eventfd
 * wakeup for other threads, and the before-sleep hook.  In the manner of
 * Redis's ae.c; connections plug into each iteration through conn.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "net/net_int.h"

#define EV_MAX_EVENTS	256
#define TSLOT_NONE	UINT32_MAX

struct ev_async {
	struct ev_loop *loop;
	int fd;
	ev_async_fn cb;
	void *arg;
	struct nlist node;
};

struct ev_loop *
ev_loop_new(void)
{
	struct ev_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	loop->epfd = -1;
	loop->free_head = TSLOT_NONE;
	nlist_init(&loop->conns);
	nlist_init(&loop->wpending);
	nlist_init(&loop->rready);
	nlist_init(&loop->dead);
	nlist_init(&loop->asyncs);
	nlist_init(&loop->listeners);
	loop->nevents = EV_MAX_EVENTS;
	loop->events = calloc((size_t)loop->nevents, sizeof(*loop->events));
	if (loop->events == NULL)
		goto err;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("epoll_create1");
		goto err;
	}
	loop->now = time_mono_ms();
	return loop;
err:
	free(loop->events);
	free(loop);
	return NULL;
}

void
ev_loop_free(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	conn_loop_shutdown(loop);
	listener_loop_shutdown(loop);
	while (!nlist_empty(&loop->asyncs))
		ev_async_free(NLIST_ENTRY(loop->asyncs.next, struct ev_async,
		    node));
	if (loop->epfd != -1)
		close(loop->epfd);
	free(loop->ios);
	free(loop->events);
	free(loop->tslots);
	free(loop->heap);
	free(loop);
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stop = 1;
}

void
ev_set_before_sleep(struct ev_loop *loop, ev_hook_fn cb, void *arg)
{
	loop->before_sleep = cb;
	loop->before_sleep_arg = arg;
}

uint64_t
ev_now_ms(const struct ev_loop *loop)
{
	return loop->now;
}

/* ---- fd watches ---- */

static int
ev_io_grow(struct ev_loop *loop, int fd)
{
	struct ev_io_slot *n;
	int want;

	if (fd < loop->nios)
		return L_OK;
	want = loop->nios ? loop->nios : 64;
	while (want <= fd)
		want *= 2;
	if ((n = realloc(loop->ios, (size_t)want * sizeof(*n))) == NULL)
		return L_ERR_NOMEM;
	memset(n + loop->nios, 0, (size_t)(want - loop->nios) * sizeof(*n));
	loop->ios = n;
	loop->nios = want;
	return L_OK;
}

static uint32_t
ev_mask_to_epoll(int mask)
{
	uint32_t e = 0;

	if (mask & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (mask & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

int
ev_io_add(struct ev_loop *loop, int fd, int mask, ev_io_fn cb, void *arg)
{
	struct epoll_event ee;

	if (fd < 0 || cb == NULL)
		return L_ERR_INVAL;
	if (ev_io_grow(loop, fd) != L_OK)
		return L_ERR_NOMEM;
	if (loop->ios[fd].used)
		return L_ERR_EXISTS;
	memset(&ee, 0, sizeof(ee));
	ee.events = ev_mask_to_epoll(mask);
	ee.data.fd = fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) == -1) {
		log_warn("epoll_ctl add fd %d", fd);
		return L_ERR_IO;
	}
	loop->ios[fd] = (struct ev_io_slot){ cb, arg, mask, 1 };
	return L_OK;
}

int
ev_io_mod(struct ev_loop *loop, int fd, int mask)
{
	struct epoll_event ee;

	if (fd < 0 || fd >= loop->nios || !loop->ios[fd].used)
		return L_ERR_NOTFOUND;
	if (loop->ios[fd].mask == mask)
		return L_OK;
	memset(&ee, 0, sizeof(ee));
	ee.events = ev_mask_to_epoll(mask);
	ee.data.fd = fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ee) == -1) {
		log_warn("epoll_ctl mod fd %d", fd);
		return L_ERR_IO;
	}
	loop->ios[fd].mask = mask;
	return L_OK;
}

int
ev_io_del(struct ev_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nios || !loop->ios[fd].used)
		return L_ERR_NOTFOUND;
	/* Failure only means the fd was already closed; forget it anyway. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&loop->ios[fd], 0, sizeof(loop->ios[fd]));
	return L_OK;
}

/* ---- timers: binary min-heap of slab indexes ---- */

static int
timer_less(const struct ev_loop *loop, uint32_t a, uint32_t b)
{
	const struct ev_timer *ta = &loop->tslots[a], *tb = &loop->tslots[b];

	if (ta->when != tb->when)
		return ta->when < tb->when;
	return ta->seq < tb->seq;
}

static void
heap_set(struct ev_loop *loop, uint32_t pos, uint32_t slot)
{
	loop->heap[pos] = slot;
	loop->tslots[slot].heap_idx = pos;
}

static void
heap_up(struct ev_loop *loop, uint32_t pos)
{
	uint32_t slot = loop->heap[pos], parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (!timer_less(loop, slot, loop->heap[parent]))
			break;
		heap_set(loop, pos, loop->heap[parent]);
		pos = parent;
	}
	heap_set(loop, pos, slot);
}

static void
heap_down(struct ev_loop *loop, uint32_t pos)
{
	uint32_t slot = loop->heap[pos], child;

	for (;;) {
		child = 2 * pos + 1;
		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len &&
		    timer_less(loop, loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_less(loop, loop->heap[child], slot))
			break;
		heap_set(loop, pos, loop->heap[child]);
		pos = child;
	}
	heap_set(loop, pos, slot);
}

static void
heap_remove(struct ev_loop *loop, uint32_t pos)
{
	uint32_t last;

	last = loop->heap[--loop->heap_len];
	if (pos == loop->heap_len)
		return;
	heap_set(loop, pos, last);
	if (pos > 0 && timer_less(loop, last, loop->heap[(pos - 1) / 2]))
		heap_up(loop, pos);
	else
		heap_down(loop, pos);
}

static void
timer_slot_free(struct ev_loop *loop, uint32_t slot)
{
	struct ev_timer *t = &loop->tslots[slot];

	t->live = 0;
	t->gen++;
	if (t->gen == 0)	/* keep handles nonzero and distinct */
		t->gen = 1;
	t->next_free = loop->free_head;
	loop->free_head = slot;
}

uint64_t
ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_timer_fn cb, void *arg)
{
	struct ev_timer *t, *ns;
	uint32_t slot, *nh, ncap;

	if (cb == NULL)
		return 0;
	if (loop->free_head == TSLOT_NONE) {
		if (loop->ntslots >= UINT32_MAX / 2)
			return 0;
		ncap = loop->ntslots ? loop->ntslots * 2 : 64;
		if ((ns = realloc(loop->tslots, ncap * sizeof(*ns))) == NULL)
			return 0;
		loop->tslots = ns;
		/* The heap never holds more than ntslots entries. */
		if ((nh = realloc(loop->heap, ncap * sizeof(*nh))) == NULL)
			return 0;
		loop->heap = nh;
		for (slot = ncap; slot > loop->ntslots; slot--) {
			t = &loop->tslots[slot - 1];
			memset(t, 0, sizeof(*t));
			t->gen = 1;
			t->next_free = loop->free_head;
			loop->free_head = slot - 1;
		}
		loop->ntslots = ncap;
	}
	slot = loop->free_head;
	t = &loop->tslots[slot];
	loop->free_head = t->next_free;
	t->when = loop->now + ms;
	t->seq = loop->tseq++;
	t->cb = cb;
	t->arg = arg;
	t->live = 1;
	loop->heap[loop->heap_len++] = slot;
	heap_up(loop, loop->heap_len - 1);
	return ((uint64_t)t->gen << 32) | ((uint64_t)slot + 1);
}

int
ev_timer_cancel(struct ev_loop *loop, uint64_t handle)
{
	uint64_t lo = handle & 0xffffffffu;
	uint32_t slot, gen = (uint32_t)(handle >> 32);
	struct ev_timer *t;

	if (lo == 0 || lo > loop->ntslots)
		return L_ERR_NOTFOUND;
	slot = (uint32_t)(lo - 1);
	t = &loop->tslots[slot];
	if (!t->live || t->gen != gen)
		return L_ERR_NOTFOUND;
	heap_remove(loop, t->heap_idx);
	timer_slot_free(loop, slot);
	return L_OK;
}

/* Fires due timers.  Timers added by a callback wait for the next
 * iteration (their seq is past the snapshot), so a callback re-arming
 * itself with 0 ms cannot starve the loop. */
static void
ev_timers_run(struct ev_loop *loop)
{
	uint64_t seq_limit = loop->tseq;
	struct ev_timer *t;
	ev_timer_fn cb;
	uint32_t slot;
	void *arg;

	while (loop->heap_len > 0) {
		slot = loop->heap[0];
		t = &loop->tslots[slot];
		if (t->when > loop->now || t->seq >= seq_limit)
			break;
		cb = t->cb;
		arg = t->arg;
		heap_remove(loop, 0);
		/* Freed before the call: cancelling it inside is a no-op. */
		timer_slot_free(loop, slot);
		cb(loop, arg);
	}
}

static int
ev_next_timeout(struct ev_loop *loop, int max_wait_ms)
{
	uint64_t when, wait;

	if (loop->heap_len == 0)
		return max_wait_ms;
	when = loop->tslots[loop->heap[0]].when;
	wait = when > loop->now ? when - loop->now : 0;
	if (wait > INT32_MAX)
		wait = INT32_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < wait)
		return max_wait_ms;
	return (int)wait;
}

/* ---- running ---- */

int
ev_run_once(struct ev_loop *loop, int max_wait_ms)
{
	struct epoll_event *ee;
	struct ev_io_slot *io;
	int n, i, fd, ev, timeout;

	loop->now = time_mono_ms();
	if (loop->before_sleep != NULL)
		loop->before_sleep(loop, loop->before_sleep_arg);
	timeout = conn_loop_tick(loop) ? 0 : ev_next_timeout(loop, max_wait_ms);
	if (loop->stop)
		timeout = 0;

	n = epoll_wait(loop->epfd, loop->events, loop->nevents, timeout);
	loop->now = time_mono_ms();
	if (n == -1) {
		if (errno != EINTR) {
			log_warn("epoll_wait");
			return L_ERR_IO;
		}
		n = 0;
	}
	for (i = 0; i < n; i++) {
		ee = &loop->events[i];
		fd = ee->data.fd;
		/* A callback earlier in this batch may have removed the fd. */
		if (fd >= loop->nios || !loop->ios[fd].used)
			continue;
		io = &loop->ios[fd];
		ev = 0;
		if (ee->events & (EPOLLIN | EPOLLRDHUP))
			ev |= EV_READ;
		if (ee->events & EPOLLOUT)
			ev |= EV_WRITE;
		ev &= io->mask;
		/* Reported whether asked for or not (epoll does the same). */
		if (ee->events & (EPOLLERR | EPOLLHUP))
			ev |= EV_HUP | (io->mask & (EV_READ | EV_WRITE));
		if (ev == 0)
			continue;
		io->cb(loop, fd, ev, io->arg);
	}
	ev_timers_run(loop);
	return L_OK;
}

int
ev_run(struct ev_loop *loop)
{
	int rc;

	loop->stop = 0;
	while (!loop->stop) {
		if ((rc = ev_run_once(loop, -1)) != L_OK)
			return rc;
	}
	/* Deliver what the last iteration queued (output, closes). */
	conn_loop_tick(loop);
	return L_OK;
}

/* ---- async wakeup ---- */

static void
ev_async_ready(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct ev_async *a = arg;
	uint64_t v;

	/* Reading resets the eventfd counter: signals sent from now on
	 * will wake us again, so none is lost. */
	while (read(fd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	a->cb(loop, a->arg);
}

struct ev_async *
ev_async_new(struct ev_loop *loop, ev_async_fn cb, void *arg)
{
	struct ev_async *a;

	if (cb == NULL || (a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->loop = loop;
	a->cb = cb;
	a->arg = arg;
	if ((a->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		goto err;
	}
	if (ev_io_add(loop, a->fd, EV_READ, ev_async_ready, a) != L_OK)
		goto err_fd;
	nlist_add_tail(&loop->asyncs, &a->node);
	return a;
err_fd:
	close(a->fd);
err:
	free(a);
	return NULL;
}

void
ev_async_signal(struct ev_async *a)
{
	uint64_t one = 1;
	int saved = errno;

	/* EAGAIN means the counter is saturated: a wakeup is pending. */
	while (write(a->fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
	errno = saved;
}

void
ev_async_free(struct ev_async *a)
{
	if (a == NULL)
		return;
	ev_io_del(a->loop, a->fd);
	close(a->fd);
	nlist_del(&a->node);
	free(a);
}
