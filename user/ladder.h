/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The handshake ladder of one connection, as rows in time order: what each
 * end did (calls, state changes) and the segments between them, from the
 * records' timestamps and sequence numbers. Drawn as text by --timeline
 * (output_timeline.c) and as SVG by -f html (output_html.c).
 *
 * What the kernel does not show is not drawn: the server's SYN reception
 * and SYN-ACK transmission happen on a request socket, before the child
 * exists.
 */
#ifndef SYNSCOPE_LADDER_H
#define SYNSCOPE_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include "synscope.h"

#define LADDER_MAX_ROWS 32

/* Which way a row's segment travels. */
enum ladder_dir {
	LADDER_NOTE = 0,      /* no segment: a remark between the ends ("(no answer)") */
	LADDER_TO_SERVER = 1, /* client -> server */
	LADDER_TO_CLIENT = 2, /* server -> client */
};

struct ladder_row {
	unsigned long long ts; /* boot-time ns */
	int order;             /* ties: the order events happen in within one instant */
	enum ladder_dir dir;
	char client[40];       /* what the client end did, "" if nothing */
	char seg[48];          /* the segment ("SYN seq=100") or remark, "" if none */
	char server[64];       /* what the server end did, "" if nothing */
};

struct ladder {
	struct ladder_row rows[LADDER_MAX_ROWS];
	int n;
};

/* Adds the rows of a handshake; either end may be NULL (not traced). */
void ladder_add_handshake(struct ladder *l, const struct synscope_handshake *client,
			  const struct synscope_handshake *server);
/* Adds the rows of an end's close (--close): its states from ESTABLISHED on. */
void ladder_add_close(struct ladder *l, const struct synscope_close *close);
/* Puts the rows in time order. */
void ladder_sort(struct ladder *l);
/* The segment with its arrow, "SYN seq=100 -->" or "<-- RST", in buf; returns buf. */
char *ladder_seg_arrow(const struct ladder_row *r, char *buf, size_t len);
/*
 * The heading of one end's column: "client demo-client 12/12", "server (never
 * accepted)", "server (accepted, caller unknown)", "client (not traced)" for
 * NULL; in buf, returns buf.
 */
char *ladder_who(char *buf, size_t len, const char *role, const struct synscope_handshake *r);

#endif
