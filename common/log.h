/* SPDX-License-Identifier: MIT */
/*
 * The one log family (systemd style). Lines go to stderr as "PROG: message"; when stderr is
 * the journal (JOURNAL_STREAM matches it) they carry a "<N>" priority prefix instead.
 * The *_errno variants print the error for r and return -abs(r), so a failure is logged and
 * propagated in one statement. Never pass a secret to these: log names, ids, fingerprints.
 */
#pragma once

#include <syslog.h>

#include "common/macro.h"

void sbx_log_set_max_level(int level);
int sbx_log_get_max_level(void);
/* Logs at level; when r != 0 appends ": strerror(-r)". Returns -abs(r) (0 when r == 0). */
int sbx_log_internal(int level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, r, ...)                                                    \
	({                                                                               \
		int _l_ = (level), _r_ = (r);                                            \
		_l_ <= sbx_log_get_max_level() ? sbx_log_internal(_l_, _r_, __VA_ARGS__) \
					       : (_r_ < 0 ? _r_ : -_r_);                 \
	})
#define log_debug(...)		  log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		  log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)		  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)	  log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)		  log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(r, ...)	  log_full_errno(LOG_DEBUG, r, __VA_ARGS__)
#define log_info_errno(r, ...)	  log_full_errno(LOG_INFO, r, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, r, __VA_ARGS__)
#define log_error_errno(r, ...)	  log_full_errno(LOG_ERR, r, __VA_ARGS__)
