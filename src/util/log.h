/* SPDX-License-Identifier: MIT */
/*
 * Logging. Messages go to stderr with a "mica: " prefix so that they can be
 * told apart from guest console output on stdout.
 *
 * log_guest() is for conditions a guest can trigger: it is rate limited per
 * call site so that a hostile guest cannot flood the host's logs.
 */
#ifndef MICA_UTIL_LOG_H
#define MICA_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages at a level above this one are dropped. Default: LOG_WARN. */
extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Per-call-site rate limit state: at most a burst of 10 messages per 5 s. */
struct log_ratelimit {
	uint64_t window_start_ns;
	unsigned int printed;
	unsigned int suppressed;
};

bool log_ratelimit_ok(struct log_ratelimit *rl);

#define log_guest(...)                                            \
	do {                                                      \
		static struct log_ratelimit rl_;                  \
		if (log_ratelimit_ok(&rl_))                       \
			log_msg(LOG_WARN, "guest: " __VA_ARGS__); \
	} while (0)

/* Monotonic clock in nanoseconds. */
uint64_t clock_ns(void);

#endif
