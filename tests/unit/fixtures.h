/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Synthetic kernel records for the unit tests. */
#ifndef SYNSCOPE_TEST_FIXTURES_H
#define SYNSCOPE_TEST_FIXTURES_H

#include <arpa/inet.h>
#include <string.h>
#include "decode.h"

/* A client end 10.0.0.1:40000 -> 10.0.0.2:8080 that reached ESTABLISHED. */
static inline struct synscope_handshake fixture_client(__u64 id, __u64 peer)
{
	struct synscope_handshake r;
	__u32 s = htonl(0x0a000001), d = htonl(0x0a000002);

	memset(&r, 0, sizeof(r));
	r.type = SYNSCOPE_REC_HANDSHAKE;
	r.role = SYNSCOPE_ROLE_CLIENT;
	r.outcome = SYNSCOPE_OUT_ESTABLISHED;
	r.family = AF_INET;
	r.sport = 40000;
	r.dport = 8080;
	memcpy(r.saddr, &s, 4);
	memcpy(r.daddr, &d, 4);
	r.iss = 1000;
	r.irs = 4000000000u;
	r.pid = 42;
	r.tid = 43;
	r.fd = 3;
	r.call_ret = 0;
	r.id = id;
	r.peer_id = peer;
	r.netns = 4026531840ull;
	r.flags = SYNSCOPE_F_CALL_SEEN | SYNSCOPE_F_RETURNED | SYNSCOPE_F_RESOLVED;
	r.ts_call = 1000000000ull;
	r.ts_syn = 1000010000ull;
	r.ts_end = 1000250000ull; /* 250 us after the call */
	r.ts_ret = 1000260000ull;
	strcpy(r.comm, "client");
	return r;
}

/* The server end of the same connection, on an IPv6 wildcard listener. */
static inline struct synscope_handshake fixture_server(__u64 id, __u64 peer, bool accepted)
{
	struct synscope_handshake r;
	static const __u8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	__u32 s = htonl(0x0a000002), d = htonl(0x0a000001);

	memset(&r, 0, sizeof(r));
	r.type = SYNSCOPE_REC_HANDSHAKE;
	r.role = SYNSCOPE_ROLE_SERVER;
	r.outcome = SYNSCOPE_OUT_ESTABLISHED;
	r.family = AF_INET6;
	r.sport = 8080;
	r.dport = 40000;
	memcpy(r.saddr, mapped, 12);
	memcpy(r.saddr + 12, &s, 4);
	memcpy(r.daddr, mapped, 12);
	memcpy(r.daddr + 12, &d, 4);
	r.iss = 4000000000u;
	r.irs = 1000;
	r.id = id;
	r.peer_id = peer;
	r.netns = 4026531840ull;
	r.acceptq = 3;
	r.backlog = 128;
	r.backlog_req = 511;
	r.fd = -1;
	r.flags = SYNSCOPE_F_RESOLVED;
	r.ts_syn = 1000200000ull;
	r.ts_end = 1000240000ull;
	if (accepted) {
		r.flags |= SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_RETURNED | SYNSCOPE_F_CALL_SEEN;
		r.pid = 7;
		r.tid = 8;
		r.fd = 5;
		r.call_ret = 5;
		r.ts_call = 1000100000ull;
		r.ts_ret = 1003240000ull; /* 3000 us after ESTABLISHED */
		strcpy(r.comm, "server");
	}
	return r;
}

static inline struct conn_end fixture_end(struct synscope_handshake raw)
{
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	decode_record(&raw, sizeof(raw), &end, &link, &close);
	return end;
}

#endif
