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
 * The join table holds the ends still waiting for their peer:
 * set-associative, allocated at start. Each end waits until a deadline the
 * caller gives (its hold). A full set gives up the entry whose deadline
 * came first, once it has come (an end whose peer is remote, or long
 * gone); while all its ends still wait, the table doubles instead, up to
 * JOIN_MAX_SETS, and only beyond that is an end pushed out early, counted
 * (join_table_evicted()). A lookup costs a few compares.
 */
#ifndef SYNSCOPE_JOIN_H
#define SYNSCOPE_JOIN_H

#include <stdbool.h>
#include "synscope.h"

/*
 * 4096 sets of 16 at start: 65536 ends. A saturated server's accept queue
 * holds thousands of ends waiting for their record at once (100 ms of
 * accept wait at 45k connections/s measured), and a reader that empties one
 * CPU's ring buffer before the next meets one end of each connection in
 * the first: tens of thousands wait at once. Up to 65536 sets (1M ends,
 * about 42 MiB).
 */
#define JOIN_SETS 4096
#define JOIN_MAX_SETS 65536
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
 * with in *peer_tag. Not found: r waits in the table with `tag` until
 * until_ns (the caller's clock, as now_ns), and 0 is returned; after that
 * it may give way to another end. r must be a join_candidate().
 */
__u64 join_find_or_add(struct join_table *t, const struct synscope_handshake *r,
		       unsigned long long tag, unsigned long long until_ns,
		       unsigned long long now_ns, unsigned long long *peer_tag);

/* Ends pushed out of a full table before their deadline: their joins are lost.
 * Safe to call from another thread. */
unsigned long long join_table_evicted(const struct join_table *t);

#endif
