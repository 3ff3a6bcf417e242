// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE /* strerrorname_np() */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h> /* TCP_* states */
#include <string.h>
#include <time.h>
#include "decode.h"

/* The ABI is fixed-size: a change here must be made on both sides. */
_Static_assert(sizeof(struct synscope_handshake) == 168, "synscope_handshake size changed");
_Static_assert(sizeof(struct synscope_link) == 24, "synscope_link size changed");
_Static_assert(sizeof(struct synscope_close) == 112, "synscope_close size changed");

/* CLOCK_BOOTTIME - CLOCK_MONOTONIC: added to the kernel's monotonic stamps. */
static long long mono_to_boot_ns;

void decode_set_mono_to_boot_ns(long long ns)
{
	mono_to_boot_ns = ns;
}

long long mono_to_boot_offset_ns(void)
{
	struct timespec boot, mono;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (boot.tv_sec - mono.tv_sec) * 1000000000LL + (boot.tv_nsec - mono.tv_nsec);
}

/* A kernel stamp (0: not taken) as boot time. */
static __u64 to_boot(__u64 mono_ns)
{
	return mono_ns ? mono_ns + mono_to_boot_ns : 0;
}

static const char *const role_names[] = {
	[SYNSCOPE_ROLE_CLIENT] = "client",
	[SYNSCOPE_ROLE_SERVER] = "server",
};

static const char *const outcome_names[] = {
	[SYNSCOPE_OUT_ESTABLISHED] = "established", [SYNSCOPE_OUT_REFUSED] = "refused",
	[SYNSCOPE_OUT_TIMEOUT] = "timeout",         [SYNSCOPE_OUT_UNREACHABLE] = "unreachable",
	[SYNSCOPE_OUT_ERROR] = "error",             [SYNSCOPE_OUT_ABANDONED] = "abandoned",
};

const char *role_name(int role)
{
	if (role <= 0 || role >= (int)(sizeof(role_names) / sizeof(role_names[0])))
		return "?";
	return role_names[role];
}

const char *outcome_name(int outcome)
{
	if (outcome <= 0 || outcome >= (int)(sizeof(outcome_names) / sizeof(outcome_names[0])))
		return "?";
	return outcome_names[outcome];
}

const char *errno_name(int err)
{
	if (err <= 0)
		return NULL;
	return strerrorname_np(err);
}

static bool is_v4mapped(const __u8 *a)
{
	static const __u8 prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/*
 * An IPv4 address as inet_ntop() writes it (dotted decimal, no leading
 * zeros). Written by hand: glibc's inet_ntop() formats IPv4 with sprintf(),
 * and at the saturating load that was 40 % of synscope's CPU (two addresses
 * per record). test_decode checks it against inet_ntop().
 */
static void ipv4_text(const __u8 *addr, char *out)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int v = addr[i];

		if (v >= 100)
			*out++ = '0' + v / 100;
		if (v >= 10)
			*out++ = '0' + v / 10 % 10;
		*out++ = '0' + v % 10;
		*out++ = i < 3 ? '.' : '\0';
	}
}

static void addr_text(int family, const __u8 *addr, char *out)
{
	if (family == AF_INET)
		ipv4_text(addr, out);
	else
		inet_ntop(family, addr, out, INET6_ADDRSTRLEN);
}

static int decode_end(const struct synscope_handshake *raw, struct conn_end *end)
{
	if (raw->role != SYNSCOPE_ROLE_CLIENT && raw->role != SYNSCOPE_ROLE_SERVER)
		return -EINVAL;
	/* An end in flight at exit may not have resolved its handshake yet. */
	if ((raw->outcome < SYNSCOPE_OUT_ESTABLISHED || raw->outcome > SYNSCOPE_OUT_ABANDONED) &&
	    !(raw->outcome == 0 && (raw->flags & SYNSCOPE_F_IN_FLIGHT)))
		return -EINVAL;
	if (raw->family != AF_INET && raw->family != AF_INET6)
		return -EINVAL;

	memset(end, 0, sizeof(*end));
	end->raw = *raw;
	end->raw.comm[SYNSCOPE_COMM_LEN - 1] = '\0';
	end->raw.ts_call = to_boot(raw->ts_call);
	end->raw.ts_syn = to_boot(raw->ts_syn);
	end->raw.ts_end = to_boot(raw->ts_end);
	end->raw.ts_ret = to_boot(raw->ts_ret);
	end->family = raw->family;
	/* Both addresses mapped, or a v4 client seen by a v6 listener: report IPv4. */
	if (raw->family == AF_INET6 && is_v4mapped(raw->saddr) && is_v4mapped(raw->daddr)) {
		end->family = AF_INET;
		end->v4mapped = true;
		addr_text(AF_INET, raw->saddr + 12, end->saddr);
		addr_text(AF_INET, raw->daddr + 12, end->daddr);
	} else {
		addr_text(end->family, raw->saddr, end->saddr);
		addr_text(end->family, raw->daddr, end->daddr);
	}
	return DECODED_END;
}

static const char *const state_names[] = {
	[1] = "ESTABLISHED", [2] = "SYN_SENT",   [3] = "SYN_RECV",   [4] = "FIN_WAIT1",
	[5] = "FIN_WAIT2",   [6] = "TIME_WAIT",  [7] = "CLOSE",      [8] = "CLOSE_WAIT",
	[9] = "LAST_ACK",    [10] = "LISTEN",    [11] = "CLOSING",   [12] = "NEW_SYN_RECV",
};

/* The last kernel TCP state (TCP_NEW_SYN_RECV; glibc's enum stops at TCP_CLOSING). */
#define TCP_ST_MAX 12

const char *tcp_state_name(int state)
{
	if (state <= 0 || state > TCP_ST_MAX)
		return "?";
	return state_names[state];
}

const char *close_kind_name(enum close_kind kind)
{
	switch (kind) {
	case CLOSE_ACTIVE: return "active";
	case CLOSE_PASSIVE: return "passive";
	case CLOSE_RESET_IN: return "reset-received";
	case CLOSE_RESET_OUT: return "reset-sent";
	default: return "unknown";
	}
}

long long close_lifetime_us(const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;

	if (r->nstates < 2 || r->ts[r->nstates - 1] < r->ts[0])
		return -1;
	return (long long)((r->ts[r->nstates - 1] - r->ts[0]) / 1000);
}

static int decode_close(const struct synscope_close *raw, struct conn_close *close)
{
	unsigned int i;
	int first;

	if (raw->role != SYNSCOPE_ROLE_CLIENT && raw->role != SYNSCOPE_ROLE_SERVER)
		return -EINVAL;
	if (raw->nstates < 1 || raw->nstates > SYNSCOPE_CLOSE_STATES || !raw->id)
		return -EINVAL;
	for (i = 0; i < raw->nstates; i++)
		if (raw->states[i] < 1 || raw->states[i] > TCP_ST_MAX)
			return -EINVAL;
	memset(close, 0, sizeof(*close));
	close->raw = *raw;
	for (i = 0; i < raw->nstates; i++)
		close->raw.ts[i] = to_boot(raw->ts[i]);
	close->raw.ts_destroy = to_boot(raw->ts_destroy);
	first = raw->nstates > 1 ? raw->states[1] : 0;
	if (first == TCP_FIN_WAIT1)
		close->kind = CLOSE_ACTIVE;
	else if (first == TCP_CLOSE_WAIT)
		close->kind = CLOSE_PASSIVE;
	else if (first == TCP_CLOSE && (raw->flags & SYNSCOPE_CF_RST_RECEIVED))
		close->kind = CLOSE_RESET_IN;
	else if (first == TCP_CLOSE)
		close->kind = CLOSE_RESET_OUT;
	else
		close->kind = CLOSE_UNKNOWN;
	return DECODED_CLOSE;
}

int decode_record(const void *data, size_t size, struct conn_end *end, struct conn_link *link,
		  struct conn_close *close)
{
	__u16 type;

	if (!data || size < sizeof(type))
		return -EINVAL;
	memcpy(&type, data, sizeof(type));
	switch (type) {
	case SYNSCOPE_REC_HANDSHAKE: {
		struct synscope_handshake raw;

		if (size < sizeof(raw))
			return -EINVAL;
		memcpy(&raw, data, sizeof(raw));
		return decode_end(&raw, end);
	}
	case SYNSCOPE_REC_LINK: {
		struct synscope_link raw;

		if (size < sizeof(raw))
			return -EINVAL;
		memcpy(&raw, data, sizeof(raw));
		if (!raw.client_id || !raw.server_id)
			return -EINVAL;
		link->client_id = raw.client_id;
		link->server_id = raw.server_id;
		return DECODED_LINK;
	}
	case SYNSCOPE_REC_CLOSE: {
		struct synscope_close raw;

		if (size < sizeof(raw))
			return -EINVAL;
		memcpy(&raw, data, sizeof(raw));
		return decode_close(&raw, close);
	}
	default:
		return -EINVAL;
	}
}

bool end_caller_known(const struct synscope_handshake *r)
{
	return r->role == SYNSCOPE_ROLE_CLIENT ||
	       (r->flags & (SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN)) == SYNSCOPE_F_ACCEPTED;
}

const char *accept_hook_name(const struct synscope_handshake *r)
{
	if (r->role != SYNSCOPE_ROLE_SERVER || !(r->flags & SYNSCOPE_F_ACCEPTED))
		return NULL;
	if (r->flags & SYNSCOPE_F_ACCEPT_UNSEEN)
		return "unseen";
	return (r->flags & SYNSCOPE_F_FEXIT) ? "fexit" : "syscall";
}

long long end_accept_wait_us(const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;

	if (r->role != SYNSCOPE_ROLE_SERVER || !(r->flags & SYNSCOPE_F_ACCEPTED) || !r->ts_end ||
	    !r->ts_ret)
		return -1;
	/* With TCP Fast Open accept() can return before ESTABLISHED. */
	if (r->ts_ret < r->ts_end)
		return 0;
	return (long long)((r->ts_ret - r->ts_end) / 1000);
}

long long end_connect_us(const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	__u64 start = (r->flags & SYNSCOPE_F_CALL_SEEN) ? r->ts_call : r->ts_syn;

	if (r->role != SYNSCOPE_ROLE_CLIENT || !start || !r->ts_end || r->ts_end < start)
		return -1;
	return (long long)((r->ts_end - start) / 1000);
}

const char *end_in_flight_state(const struct synscope_handshake *r)
{
	bool resolved = r->flags & SYNSCOPE_F_RESOLVED;

	if (!(r->flags & SYNSCOPE_F_IN_FLIGHT))
		return NULL;
	if (r->role == SYNSCOPE_ROLE_CLIENT)
		return resolved ? "connect_return" : "SYN_SENT";
	if (!resolved)
		return "SYN_RECV";
	return (r->flags & SYNSCOPE_F_ACCEPTED) ? "accept_return" : "accept_queue";
}

unsigned long long end_time_ns(const struct synscope_handshake *r)
{
	if (r->ts_end)
		return r->ts_end;
	return r->ts_syn ? r->ts_syn : r->ts_ret;
}

const char *end_outcome_name(const struct synscope_handshake *r)
{
	return r->outcome ? outcome_name(r->outcome) : "unresolved";
}
