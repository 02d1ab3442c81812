// SPDX-License-Identifier: MIT
/* Logging to stderr, with a rate limit for guest-triggered messages. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/*
	 * One fprintf per message: stdio locks the stream, so lines from
	 * different threads do not interleave. A plain "\n" is enough on a
	 * raw terminal too: mica keeps its output processing (ONLCR).
	 */
	fprintf(stderr, "mica: %s: %s\n", level_names[level], buf);
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	const uint64_t window = 5000000000ull;
	uint64_t now = clock_ns();
	unsigned int suppressed = 0;
	bool ok;

	pthread_mutex_lock(&rl_lock);
	if (now - rl->window_start_ns > window) {
		suppressed = rl->suppressed;
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	ok = rl->printed < 10;
	if (ok)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&rl_lock);
	if (suppressed)
		log_msg(LOG_WARN, "guest: %u similar messages suppressed",
			suppressed);
	return ok;
}
