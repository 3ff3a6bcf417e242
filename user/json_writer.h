/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * JSON value writers for the fixed-schema JSONL records: each writes at `p`
 * and returns the end of what it wrote. The caller provides the room (see
 * the bound beside each function); nothing here allocates.
 */
#ifndef SYNSCOPE_JSON_WRITER_H
#define SYNSCOPE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* A string literal, copied without escaping (keys and punctuation). */
#define JW_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* Most bytes jw_str() writes for n input bytes. */
#define JW_STR_MAX(n) (6 * (size_t)(n) + 2)

extern const char jw_digits2[200];

/* Decimal unsigned 64-bit integer; at most 20 bytes. */
static inline char *jw_u64(char *p, unsigned long long v)
{
	char tmp[20], *t = tmp + sizeof(tmp);
	size_t n;

	/* Two digits a division: half the divisions of the digit-by-digit loop. */
	while (v >= 100) {
		t -= 2;
		memcpy(t, jw_digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		t -= 2;
		memcpy(t, jw_digits2 + 2 * v, 2);
	} else {
		*--t = '0' + v;
	}
	n = tmp + sizeof(tmp) - t;
	memcpy(p, t, n);
	return p + n;
}

/* Decimal signed 64-bit integer, INT64_MIN included; at most 20 bytes. */
static inline char *jw_i64(char *p, long long v)
{
	if (v < 0) {
		*p++ = '-';
		return jw_u64(p, 0ULL - (unsigned long long)v);
	}
	return jw_u64(p, v);
}

/* `true` or `false`; at most 5 bytes. */
static inline char *jw_bool(char *p, bool v)
{
	return v ? JW_LIT(p, "true") : JW_LIT(p, "false");
}

/*
 * The n bytes at s as a quoted JSON string; at most JW_STR_MAX(n) bytes.
 * `"` and `\` are escaped, control bytes written as \n, \t... or \u00XX,
 * valid UTF-8 copied, and every byte that is not part of a valid UTF-8
 * sequence (stray continuation, bad lead byte, truncated or overlong
 * sequence, surrogate, above U+10FFFF) replaced by \ufffd: the output is
 * always valid JSON and valid UTF-8, whatever s holds (NUL bytes included).
 */
char *jw_str(char *p, const char *s, size_t n);

/* A NUL-terminated string as jw_str(), or `null` for NULL. */
char *jw_cstr_or_null(char *p, const char *s);

#endif
