// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "decode.h"
#include "output.h"
#include "summary.h"

unsigned long long summary_join_index_full(const struct run_summary *sum)
{
	return sum->kernel.index_map_full + sum->joins_evicted;
}

unsigned long long summary_kernel_losses(const struct run_summary *sum)
{
	const struct synscope_stats *k = &sum->kernel;

	return k->ringbuf_drops + k->link_drops + k->sock_map_full + k->sock_stale + k->close_storage_full +
	       k->close_unseen + k->handshake_unseen + k->call_map_full + summary_join_index_full(sum) +
	       k->listener_map_full + k->tgid_map_full + k->metrics_map_full + sum->prog_misses;
}

void summary_print_lost(FILE *f, const struct run_summary *sum)
{
	const struct synscope_stats *k = &sum->kernel;

	if (sum->kernel_valid)
		fprintf(f, "synscope: lost: %llu (ring buffer full %llu, link records dropped %llu, "
			   "socket map full %llu, "
			   "stale socket entries %llu, close storage full %llu, "
			   "closes the kernel did not report %llu, "
			   "handshake ends the kernel did not report %llu, "
			   "call map full %llu, join index full %llu, listener map full %llu, "
			   "process map full %llu, metrics map full %llu, "
			   "program runs skipped by the kernel %llu)\n",
			summary_kernel_losses(sum), k->ringbuf_drops, k->link_drops,
			k->sock_map_full,
			k->sock_stale, k->close_storage_full, k->close_unseen, k->handshake_unseen,
			k->call_map_full, summary_join_index_full(sum), k->listener_map_full, k->tgid_map_full,
			k->metrics_map_full, sum->prog_misses);
}

void summary_print_listeners_now(FILE *f, const struct run_summary *sum)
{
	char name[64], state[192];
	size_t i;

	for (i = 0; i < sum->nlisteners_now; i++)
		fprintf(f, "synscope: listener %s (netns %llu) at exit: %s\n",
			listener_name(&sum->listeners_now[i], name, sizeof(name)),
			sum->listeners_now[i].q.netns,
			listener_state_text(&sum->listeners_now[i], state, sizeof(state)));
}

void summary_print(FILE *f, const struct run_summary *sum)
{
	unsigned int i;
	int o;

	fprintf(f, "synscope: %llu connection ends: %llu client, %llu server (%llu never accepted), "
		   "%llu joined to their peer\n",
		sum->ends, sum->clients, sum->servers, sum->not_accepted, sum->joined);
	if (sum->recovered)
		fprintf(f, "synscope: %llu connection ends whose handshake the state tracepoint did not "
			   "report, read from the socket when connect() or accept() returned or their "
			   "listener closed (marked recovered)\n", sum->recovered);
	if (sum->in_flight_valid && sum->in_flight)
		fprintf(f, "synscope: %llu connection ends still in their handshake or accept queue at "
			   "exit: not written\n", sum->in_flight);
	if (sum->closes_open_valid && sum->closes_open)
		fprintf(f, "synscope: %llu established ends not yet closed at exit: no close record\n",
			sum->closes_open);
	fprintf(f, "synscope: outcomes:");
	for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
		fprintf(f, " %s %llu", outcome_name(o), sum->by_outcome[o]);
	fputc('\n', f);
	for (i = 0; i < sum->nlisteners; i++) {
		const struct listener_summary *l = &sum->listeners[i];

		fprintf(f, "synscope: listener port %u (netns %llu): %llu handshakes, %llu accepted, "
			   "%llu never accepted, %llu closed in queue; accept queue max %u/%u; "
			   "accept wait p50 %llu us, p99 %llu us, max %llu us; SYN-ACK retransmits %llu\n",
			l->port, l->netns, l->completed, l->accepted, l->not_accepted, l->closed_in_queue,
			l->max_acceptq, l->backlog, hist_percentile(&l->wait_us, 50),
			hist_percentile(&l->wait_us, 99), l->max_wait_us, l->synack_retrans);
	}
	for (i = 0; i < sum->ndestinations; i++) {
		const struct destination_summary *d = &sum->destinations[i];

		fprintf(f, "synscope: destination %s port %u:", d->addr, d->port);
		for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
			if (d->by_outcome[o])
				fprintf(f, " %s %llu", outcome_name(o), d->by_outcome[o]);
		fprintf(f, "; SYN retransmits %llu", d->syn_retrans);
		if (d->connect_us.count)
			fprintf(f, "; connect p50 %llu us, p99 %llu us", hist_percentile(&d->connect_us, 50),
				hist_percentile(&d->connect_us, 99));
		fputc('\n', f);
	}
	if (sum->destinations_untracked)
		fprintf(f, "synscope: %llu client ends to further destinations not itemised\n",
			sum->destinations_untracked);
	if (sum->closes)
		fprintf(f, "synscope: %llu closes: %llu active, %llu passive, %llu reset received, "
			   "%llu reset sent, %llu unknown; TIME_WAIT kept by %llu clients, %llu servers\n",
			sum->closes, sum->close_kinds[CLOSE_ACTIVE], sum->close_kinds[CLOSE_PASSIVE],
			sum->close_kinds[CLOSE_RESET_IN], sum->close_kinds[CLOSE_RESET_OUT],
			sum->close_kinds[CLOSE_UNKNOWN], sum->time_waits[0], sum->time_waits[1]);
	if (sum->netstat.valid)
		fprintf(f, "synscope: this netns' listen drops the state tracepoint cannot see: "
			   "ListenOverflows %llu, ListenDrops %llu, SyncookiesSent %llu\n",
			sum->netstat.listen_overflows, sum->netstat.listen_drops,
			sum->netstat.syncookies_sent);
	if (sum->listeners_untracked)
		fprintf(f, "synscope: %llu server ends on further listeners not itemised\n",
			sum->listeners_untracked);
	summary_print_listeners_now(f, sum);
	summary_print_lost(f, sum);
	if (sum->decode_errors || sum->write_errors || sum->late_links)
		fprintf(f, "synscope: %llu undecodable records, %llu failed writes, %llu joins "
			   "found after one end was printed (written as link records)\n",
			sum->decode_errors, sum->write_errors, sum->late_links);
}
