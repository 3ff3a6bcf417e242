/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracker: receives decoded records in ring-buffer order, completes the
 * joining of the two ends of a local connection, counts, and hands each end
 * to the output sink.
 *
 * Joining happens in the kernel (the server end names its client when it
 * reaches ESTABLISHED). When the client's record left the kernel before its
 * server completed, a LINK record follows it; the tracker therefore holds a
 * client record without a peer for `hold_ns` before printing it with none.
 */
#ifndef SYNSCOPE_TRACKER_H
#define SYNSCOPE_TRACKER_H

#include "decode.h"
#include "output.h"
#include "summary.h"

#define TRACKER_DEFAULT_HOLD_NS (200ULL * 1000 * 1000)

struct tracker;

/* Returns NULL on allocation failure. The tracker does not own `out`. */
struct tracker *tracker_new(struct output *out, unsigned long long hold_ns);
void tracker_free(struct tracker *t);

/* A connection end received at boot time `now_ns`. */
void tracker_end(struct tracker *t, const struct conn_end *end, unsigned long long now_ns);
/* A late join of a client to its server end. */
void tracker_link(struct tracker *t, const struct conn_link *link);
/* How an established end closed (--close). */
void tracker_close(struct tracker *t, const struct conn_close *close);
/* A record that did not decode. */
void tracker_bad_record(struct tracker *t);
/*
 * One decode_record() result: `kind` (enum decoded_kind, or a negative error)
 * picks tracker_end(), tracker_link(), tracker_close() or tracker_bad_record().
 */
void tracker_decoded(struct tracker *t, int kind, const struct conn_end *end,
		     const struct conn_link *link, const struct conn_close *close,
		     unsigned long long now_ns);
/* Prints held clients older than hold_ns. */
void tracker_tick(struct tracker *t, unsigned long long now_ns);
/* Prints everything held (at exit). */
void tracker_flush(struct tracker *t);

/* Counts so far (valid until tracker_free). */
struct run_summary *tracker_summary(struct tracker *t);

#endif
