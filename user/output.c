// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <time.h>
#include "output.h"

int output_format_parse(const char *name, enum output_format *fmt)
{
	if (!strcmp(name, "text"))
		*fmt = OUTPUT_TEXT;
	else if (!strcmp(name, "jsonl"))
		*fmt = OUTPUT_JSONL;
	else
		return -EINVAL;
	return 0;
}

void output_init(struct output *out, enum output_format fmt, FILE *f)
{
	memset(out, 0, sizeof(*out));
	out->ops = fmt == OUTPUT_JSONL ? &output_jsonl_ops : &output_text_ops;
	out->f = f;
	out->boot_to_real_ns = boot_to_realtime_offset_ns();
}

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

long long boot_to_realtime_offset_ns(void)
{
	struct timespec boot, real;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return ts_ns(&real) - ts_ns(&boot);
}

char *format_rfc3339(unsigned long long boot_ns, long long boot_to_real_ns, char *buf, size_t len)
{
	long long real = (long long)boot_ns + boot_to_real_ns;
	time_t sec = real / 1000000000LL;
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09lldZ", real % 1000000000LL);
	return buf;
}

int output_end_all(struct output *out, const struct conn_end *end)
{
	int failed = 0;

	for (; out; out = out->next)
		failed += out->ops->end(out, end) != 0;
	return failed;
}

int output_link_all(struct output *out, const struct conn_link *link)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->ops->link)
			failed += out->ops->link(out, link) != 0;
	return failed;
}

int output_finish_all(struct output *out, const struct run_summary *sum)
{
	int failed = 0;

	for (; out; out = out->next) {
		if (out->ops->flush)
			failed += out->ops->flush(out) != 0;
		failed += out->ops->summary(out, sum) != 0;
	}
	return failed;
}
