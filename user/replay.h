/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* -r FILE: a capture read back through the decoder, the tracker and the sinks. */
#ifndef SYNSCOPE_REPLAY_H
#define SYNSCOPE_REPLAY_H

#include "capture.h"
#include "options.h"
#include "tracker.h"

/*
 * Feeds every record of `r` (initialised) to `t`, in file order, with the
 * records' own boot-time stamps as the tracker's clock (the latest seen so
 * far), so that late joins are held as long as in the live run. Returns the
 * status that ended the read (enum capture_read_status): CAPTURE_END,
 * CAPTURE_CUT, CAPTURE_IO_ERROR, or CAPTURE_CORRUPT, also for a record
 * decode_record() refuses; r->error says why and where. Records before the
 * failure have been handed to the tracker.
 */
int replay_records(struct capture_reader *r, struct tracker *t);

/* Copies the trailer's kernel counts, misses and netstat deltas into `sum`, if it was read. */
void replay_apply_trailer(const struct capture_reader *r, struct run_summary *sum);

/*
 * synscope -r FILE: reads cfg->read_path ("-": stdin) into the -f/-o/
 * --timeline sinks, prints the summary. Needs no privileges and loads no
 * BPF. Returns 0, or 1 after printing why (unreadable or refused file, a
 * corrupt or cut-off capture: the records before the fault are printed).
 */
int run_replay(const struct synscope_config *cfg);

#endif
