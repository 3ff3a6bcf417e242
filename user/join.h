/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The join of a local connection's two ends. The client's record and the
 * server child's record carry mirrored ports and the same two initial
 * sequence numbers: the client's ISS is the server's IRS and the other way
 * round (RFC 9293, 3.4). An ISS is a keyed hash of the 4-tuple (RFC 6528,
 * the kernel's secure_tcp_seq()), so ports, ISS and IRS tell connections
 * apart without addresses or network namespaces: a client in one namespace
 * joins its server in another.
 *
 * The join table holds the ends still waiting for their peer: fixed size,
 * set-associative, allocated once. A full set gives its oldest entry
 * up (an end whose peer is remote, or long gone), so a lookup costs a few
 * compares and nothing ever grows.
 */
#ifndef SYNSCOPE_JOIN_H
#define SYNSCOPE_JOIN_H

#include <stdbool.h>
#include "synscope.h"

/*
 * 4096 sets of 16: 65536 ends. A saturated server's accept queue holds
 * thousands of ends waiting for their record at once (100 ms of accept wait
 * at 45k connections/s measured): 16 ways keep a set from overflowing with
 * young entries.
 */
#define JOIN_SETS 4096
#define JOIN_WAYS 16

struct join_table;

/* Returns NULL on allocation failure. */
struct join_table *join_table_new(void);
void join_table_free(struct join_table *t);

/* Whether r can be joined: an established end with its ports and no peer yet. */
bool join_candidate(const struct synscope_handshake *r);

/*
 * Finds the other end of r's connection among the waiting ends. Found: it
 * leaves the table, and its id is returned, with the `tag` it was added
 * with in *peer_tag. Not found: r waits in the table with `tag`, and 0 is
 * returned. r must be a join_candidate().
 */
__u64 join_find_or_add(struct join_table *t, const struct synscope_handshake *r,
		       unsigned long long tag, unsigned long long *peer_tag);

#endif
