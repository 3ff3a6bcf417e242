/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracker: receives decoded records in ring-buffer order, joins the
 * two ends of a local connection (join.h), counts, and hands each end to
 * the output sinks.
 *
 * An established end waits, held, up to `hold_ns` for its peer's record
 * (the two ends leave the kernel on different CPUs, in either order), then
 * is printed with its peer's id, or with none. A peer found after an end
 * was printed (held longer than hold_ns, or hold_ns 0) is written as a
 * link. Ends are printed in the order they came, a joined one as soon as
 * no older one waits. A close record names its end's peer too: one that
 * comes while its end is held is printed right after it, and one that
 * comes before its end's record (the two left the kernel through different
 * CPUs' ring buffers) waits up to `hold_ns` for it, then follows it.
 */
#ifndef SYNSCOPE_TRACKER_H
#define SYNSCOPE_TRACKER_H

#include <stdbool.h>
#include "decode.h"
#include "output.h"
#include "summary.h"

#define TRACKER_DEFAULT_HOLD_NS (200ULL * 1000 * 1000)

struct join_table;
struct tracker;

/* Returns NULL on allocation failure. The tracker does not own `out`. */
struct tracker *tracker_new(struct output *out, unsigned long long hold_ns);
void tracker_free(struct tracker *t);

/* A connection end received at boot time `now_ns`; the tracker may set its peer_id. */
void tracker_end(struct tracker *t, struct conn_end *end, unsigned long long now_ns);
/* Close records will come (--close): keep the peers of printed ends for them. */
void tracker_expect_closes(struct tracker *t, bool closes);
/* A late join of a client to its server end (captures of versions before 2026-12). */
void tracker_link(struct tracker *t, const struct conn_link *link);
/* How an established end closed (--close), received at boot time `now_ns`. */
void tracker_close(struct tracker *t, const struct conn_close *close, unsigned long long now_ns);
/* A record that did not decode. */
void tracker_bad_record(struct tracker *t);
/*
 * One decode_record() result: `kind` (enum decoded_kind, or a negative error)
 * picks tracker_end(), tracker_link(), tracker_close() or tracker_bad_record().
 */
void tracker_decoded(struct tracker *t, int kind, struct conn_end *end,
		     const struct conn_link *link, const struct conn_close *close,
		     unsigned long long now_ns);
/* Prints held ends older than hold_ns. */
void tracker_tick(struct tracker *t, unsigned long long now_ns);
/* Prints everything held (at exit). */
void tracker_flush(struct tracker *t);

/* Counts so far (valid until tracker_free). */
struct run_summary *tracker_summary(struct tracker *t);
/* The tracker's join table, for join_table_evicted() from another thread. */
const struct join_table *tracker_join_table(const struct tracker *t);

#endif
