// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "json_writer.h"

const char jw_digits2[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/*
 * Length of the valid UTF-8 sequence starting at s (n bytes left), or 0.
 * The second byte's range excludes overlongs (E0, F0), surrogates (ED) and
 * code points above U+10FFFF (F4), as in RFC 3629's grammar.
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

char *jw_str(char *p, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	*p++ = '"';
	while (i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*p++ = c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			len = utf8_seq(s + i, n - i);
			if (len) {
				memcpy(p, s + i, len);
				p += len;
				i += len;
			} else {
				p = JW_LIT(p, "\\ufffd");
				i++;
			}
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*p++ = c;
			break;
		case '\n':
			*p++ = 'n';
			break;
		case '\t':
			*p++ = 't';
			break;
		case '\r':
			*p++ = 'r';
			break;
		case '\b':
			*p++ = 'b';
			break;
		case '\f':
			*p++ = 'f';
			break;
		default:
			p = JW_LIT(p, "u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0xf];
		}
		i++;
	}
	*p++ = '"';
	return p;
}

char *jw_cstr_or_null(char *p, const char *s)
{
	return s ? jw_str(p, s, strlen(s)) : JW_LIT(p, "null");
}
