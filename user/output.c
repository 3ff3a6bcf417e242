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

int output_close_all(struct output *out, const struct conn_close *close)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->ops->close)
			failed += out->ops->close(out, close) != 0;
	return failed;
}

const char *close_final_state(const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;

	if (!(r->flags & SYNSCOPE_CF_TIME_WAIT))
		return tcp_state_name(r->states[r->nstates - 1]);
	return (r->flags & SYNSCOPE_CF_FIN_RECEIVED) ? "TIME_WAIT" : "TIME_WAIT(FIN_WAIT2)";
}

void close_path_text(const struct conn_close *close, char *buf, size_t len, const char *sep)
{
	const struct synscope_close *r = &close->raw;
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < r->nstates && used < len; i++) {
		bool last = i == r->nstates - 1u;
		const char *name = last ? close_final_state(close) : tcp_state_name(r->states[i]);

		used += snprintf(buf + used, len - used, "%s%s", i ? sep : "", name);
	}
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
		if (out->ops->summary)
			failed += out->ops->summary(out, sum) != 0;
	}
	return failed;
}
