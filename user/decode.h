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

enum decoded_kind {
	DECODED_END = SYNSCOPE_REC_HANDSHAKE,
	DECODED_LINK = SYNSCOPE_REC_LINK,
};

/*
 * Decodes one ring-buffer record of `size` bytes.
 * Returns DECODED_END (fills *end) or DECODED_LINK (fills *link);
 * -EINVAL for a record that is short, of an unknown type, or whose role,
 * outcome or family is out of range (the kernel side and this build disagree).
 */
int decode_record(const void *data, size_t size, struct conn_end *end, struct conn_link *link);

/* "client" / "server"; "?" if out of range. */
const char *role_name(int role);
/* "established", "refused", "timeout", "unreachable", "error", "abandoned"; "?" if out of range. */
const char *outcome_name(int outcome);
/* "ECONNREFUSED"... for a positive errno; NULL for 0. */
const char *errno_name(int err);

/* Accept-queue wait of a server end in microseconds (ESTABLISHED -> accept() return); -1 if not accepted. */
long long end_accept_wait_us(const struct conn_end *end);
/* connect() entry -> handshake resolved, microseconds; -1 if connect() was not seen. */
long long end_connect_us(const struct conn_end *end);

#endif
