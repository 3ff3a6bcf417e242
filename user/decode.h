/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Decoding of ring-buffer records into connection ends user space can print. */
#ifndef SYNSCOPE_DECODE_H
#define SYNSCOPE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include "synscope.h"

/*
 * One connection end, as sinks see it. Addresses are normalised: an IPv4
 * connection carried by an AF_INET6 socket (::ffff:a.b.c.d) is reported as
 * IPv4 with `v4mapped` set, so both ends of a connection look alike.
 */
struct conn_end {
	struct synscope_handshake raw; /* the record as the kernel sent it */
	int family;                    /* AF_INET or AF_INET6, after normalisation */
	bool v4mapped;                 /* socket was AF_INET6 carrying IPv4 */
	char saddr[INET6_ADDRSTRLEN];  /* local address, text */
	char daddr[INET6_ADDRSTRLEN];  /* remote address, text */
};

struct conn_link {
	__u64 client_id;
	__u64 server_id;
};

/* How an established end closed (--close), with the closer derived from its states. */
enum close_kind {
	CLOSE_ACTIVE = 1,   /* sent the first FIN: ESTABLISHED -> FIN_WAIT1 */
	CLOSE_PASSIVE,      /* received the first FIN: ESTABLISHED -> CLOSE_WAIT */
	CLOSE_RESET_IN,     /* an RST arrived (the peer aborted) */
	CLOSE_RESET_OUT,    /* went to CLOSE without FIN or RST received: aborted here (RST sent) */
	CLOSE_UNKNOWN,      /* still ESTABLISHED when destroyed, or states lost */
};

struct conn_close {
	struct synscope_close raw;
	enum close_kind kind;
};

enum decoded_kind {
	DECODED_END = SYNSCOPE_REC_HANDSHAKE,
	DECODED_LINK = SYNSCOPE_REC_LINK,
	DECODED_CLOSE = SYNSCOPE_REC_CLOSE,
};

/*
 * Decodes one ring-buffer record of `size` bytes.
 * Returns DECODED_END (fills *end), DECODED_LINK (fills *link) or
 * DECODED_CLOSE (fills *close); -EINVAL for a record that is short, of an
 * unknown type, or whose role, outcome, family or states are out of range
 * (the kernel side and this build disagree).
 */
int decode_record(const void *data, size_t size, struct conn_end *end, struct conn_link *link,
		  struct conn_close *close);

/*
 * The kernel stamps records with CLOCK_MONOTONIC (bpf_ktime_get_ns(): the
 * boot-time clock costs a contended cache line more per read); decoded
 * records carry CLOCK_BOOTTIME. Sets the difference, CLOCK_BOOTTIME -
 * CLOCK_MONOTONIC in ns (the time spent suspended), added to every non-zero
 * stamp from then on; 0 until set.
 */
void decode_set_mono_to_boot_ns(long long ns);
/* CLOCK_BOOTTIME - CLOCK_MONOTONIC now, in ns. */
long long mono_to_boot_offset_ns(void);

/* Kernel TCP state name ("ESTABLISHED", "FIN_WAIT1"...); "?" if out of range. */
const char *tcp_state_name(int state);
/* "active", "passive", "reset-received", "reset-sent", "unknown". */
const char *close_kind_name(enum close_kind kind);
/* Connection lifetime of a closed end: ESTABLISHED to its last state, microseconds. */
long long close_lifetime_us(const struct conn_close *close);

/* "client" / "server"; "?" if out of range. */
const char *role_name(int role);
/* "established", "refused", "timeout", "unreachable", "error", "abandoned"; "?" if out of range. */
const char *outcome_name(int outcome);
/* "ECONNREFUSED"... for a positive errno; NULL for 0. */
const char *errno_name(int err);

/*
 * Whether the record names the process that made the end: always for a
 * client; for a server, when a traced accept returned it (not when it was
 * accepted unseen, SYNSCOPE_F_ACCEPT_UNSEEN, nor never accepted).
 */
bool end_caller_known(const struct synscope_handshake *r);
/* "syscall", "fexit" or "unseen": what saw a server end accepted; NULL if it was not. */
const char *accept_hook_name(const struct synscope_handshake *r);

/*
 * For a record of an end still in flight when synscope stopped
 * (SYNSCOPE_F_IN_FLIGHT), where it was: "SYN_SENT", "connect_return" (client;
 * connect() had not returned), "SYN_RECV", "accept_queue", "accept_return"
 * (server). NULL for every other record.
 */
const char *end_in_flight_state(const struct synscope_handshake *r);
/* outcome_name(), or "unresolved" for an end in flight whose handshake had not ended. */
const char *end_outcome_name(const struct synscope_handshake *r);
/* When the end's handshake ended (ts_end); for one in flight that had not, its start; for a
 * recovered one (SYNSCOPE_F_RECOVERED: the end unknown), the syscall's return. */
unsigned long long end_time_ns(const struct synscope_handshake *r);

/* Accept-queue wait of a server end in microseconds (ESTABLISHED -> accept() return); -1 if not accepted or the accept was unseen. */
long long end_accept_wait_us(const struct conn_end *end);
/* connect() entry -> handshake resolved, microseconds; -1 if connect() was not seen. */
long long end_connect_us(const struct conn_end *end);

#endif
