/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PPTP call table: allocating a translated Call ID, and the look-ups
 * GRE and the control-message rewriter need. Layouts and the reasons for
 * them: abi/vpnpt_abi.h (vpnpt_pptp_calls_v2, vpnpt_pptp_gre_out_v2).
 *
 * The table is an array indexed by the translated id. Allocation walks the
 * call's fixed candidate sequence (vpnpt_pptp_candidate: the client's own
 * id first, so most calls are not translated at all) and claims the first
 * free slot with compare-and-swap, atomic across CPUs, so an id is never
 * handed out twice. Finding a client's call walks the same sequence, which
 * makes allocation idempotent while the call lives: a repeated request gets
 * the same translated id. Once that call is closing, the same client id
 * starts a new call in another slot (the closing one stays reserved until
 * the daemon frees it).
 *
 * One control connection is one TCP flow, which RSS keeps on one CPU, so
 * two CPUs never allocate for the same client call at once (the stream
 * tracker in pptp_ctrl.h relies on the same).
 */
#ifndef VPNPT_BPF_PPTP_CALLS_H
#define VPNPT_BPF_PPTP_CALLS_H

#include "bpf/lib/clock.h"
#include "bpf/lib/quota.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/quote_index.h"

/* Control connection identity recorded with each call (LAN side). */
struct pptp_ctrl_id {
	__be32 client;
	__be32 server;
	__be16 client_port;
	__u16 pad;
	__u32 lan_ifindex;
};

/* The call with translated id @xlat (network order), whatever its state; NULL only for a bad index. */
static __always_inline struct vpnpt_pptp_call *pptp_slot(__be16 xlat)
{
	__u32 idx = bpf_ntohs(xlat);

	return bpf_map_lookup_elem(&vpnpt_pptp_calls_v2, &idx);
}

/*
 * Moves a call slot from state @from to @to with one 64-bit compare-and-swap
 * of its first 8 bytes (state and server; -mcpu=v1 has no 32-bit one). A full
 * barrier on every JIT, so the fields written before a publish are visible
 * to whoever sees the new state. Returns whether this CPU made the move.
 */
static __always_inline int pptp_move(struct vpnpt_pptp_call *c, __u32 from, __u32 to)
{
	struct {
		__u32 state;
		__be32 server;
	} was = {from, c->server}, now = {to, c->server};
	__u64 w, n;

	__builtin_memcpy(&w, &was, sizeof(w));
	__builtin_memcpy(&n, &now, sizeof(n));
	return __sync_val_compare_and_swap((__u64 *)c, w, n) == w;
}

/* The call toward @server known to it as @xlat, in use (not free, not being claimed). */
static __always_inline struct vpnpt_pptp_call *pptp_call(__be32 server, __be16 xlat)
{
	struct vpnpt_pptp_call *c = pptp_slot(xlat);

	if (!c || c->server != server || !vpnpt_session_in_use(c->state))
		return NULL;
	return c;
}

/* Finds the live call a client has for (server, client id, control port); *xlat receives its id. */
static __always_inline struct vpnpt_pptp_call *pptp_find_own(const struct pptp_ctrl_id *cid, __be16 client_call_id,
                                                             __be16 *xlat)
{
	for (__u32 i = 0; i < VPNPT_PPTP_ALLOC_PROBES; i++) {
		__u32 idx = vpnpt_pptp_candidate(cid->client, cid->server, cid->client_port, client_call_id, i);
		struct vpnpt_pptp_call *c = bpf_map_lookup_elem(&vpnpt_pptp_calls_v2, &idx);
		if (c && vpnpt_session_active(c->state) && c->client == cid->client && c->server == cid->server &&
		    c->client_call_id == client_call_id && c->ctrl_client_port == cid->client_port) {
			*xlat = bpf_htons((__u16)idx);
			return c;
		}
	}
	return NULL;
}

/*
 * Reserves a translated id for (client, server, client_call_id), or returns
 * the one it already has. *xlat receives it (network order).
 */
static __always_inline enum vpnpt_reason pptp_alloc(const struct pptp_ctrl_id *cid, __be16 client_call_id, __be16 *xlat)
{
	if (pptp_find_own(cid, client_call_id, xlat))
		return VPNPT_REASON_NONE;
	if (!quota_take(cid->client, QUOTA_CALLS))
		return VPNPT_REASON_PPTP_HOST_QUOTA;

	for (__u32 i = 0; i < VPNPT_PPTP_ALLOC_PROBES; i++) {
		__u32 idx = vpnpt_pptp_candidate(cid->client, cid->server, cid->client_port, client_call_id, i);
		struct vpnpt_pptp_call *c = bpf_map_lookup_elem(&vpnpt_pptp_calls_v2, &idx);
		if (!c || c->state != VPNPT_PPTP_CALL_FREE)
			continue;
		__u64 now = vpnpt_now_ns();
		/* Freed lately toward this server: its GRE may still come. (A stamp ahead of this
		 * CPU's clock counts as now: see clock.h.) */
		if (c->server == cid->server && (c->closed_ns > now || now - c->closed_ns < VPNPT_PPTP_QUARANTINE_NS))
			continue;
		if (!pptp_move(c, VPNPT_PPTP_CALL_FREE, VPNPT_PPTP_CALL_CLAIMED))
			continue; /* another CPU took it a moment ago */
		c->server = cid->server;
		c->client = cid->client;
		c->client_call_id = client_call_id;
		c->server_call_id = 0;
		c->lan_ifindex = cid->lan_ifindex;
		c->ctrl_client_port = cid->client_port;
		c->ctrl_public_port = 0;
		c->gre_slot = 0;
		c->quote_noted = 0;
		c->created_ns = now;
		c->last_seen_ns = now;
		c->closed_ns = 0;
		c->packets_out = c->bytes_out = c->packets_in = c->bytes_in = 0;
		/* Published last: readers ignore CLAIMED slots. Nobody else moves a CLAIMED slot. */
		pptp_move(c, VPNPT_PPTP_CALL_CLAIMED, VPNPT_PPTP_CALL_REQUESTED);
		*xlat = bpf_htons((__u16)idx);
		return VPNPT_REASON_NONE;
	}
	quota_give(cid->client, QUOTA_CALLS);
	return VPNPT_REASON_PPTP_ID_EXHAUSTED;
}

/*
 * Outbound GRE: the call a client's GRE toward @server with the server's
 * Call ID names. Walks the probe run from the home slot; usually the first
 * slot is it.
 */
static __always_inline struct vpnpt_pptp_call *pptp_gre_out(__be32 client, __be32 server, __be16 server_call_id,
                                                            __be16 *xlat)
{
	struct vpnpt_run r = vpnpt_pptp_gre_run(client, server, server_call_id);

	for (__u32 i = 0; i < VPNPT_PPTP_GRE_PROBES; i++) {
		__u32 idx = vpnpt_run_slot(&r, i);
		struct vpnpt_pptp_gre_slot *s = bpf_map_lookup_elem(&vpnpt_pptp_gre_out_v2, &idx);
		if (!s || s->tag != r.tag || s->server_call_id != server_call_id)
			continue;
		struct vpnpt_pptp_call *c = pptp_slot(s->xlat_call_id);
		if (c && c->state == VPNPT_PPTP_CALL_ESTABLISHED && c->client == client && c->server == server &&
		    c->server_call_id == server_call_id) {
			*xlat = s->xlat_call_id;
			return c;
		}
	}
	return NULL;
}

/* The outbound GRE index slot naming @call (translated id @xlat) under @server_call_id, as one word. */
static __always_inline __u64 pptp_gre_word(const struct vpnpt_pptp_call *call, __be16 server_call_id, __be16 xlat)
{
	struct vpnpt_pptp_gre_slot s = {.tag = vpnpt_pptp_gre_tag(call->client, call->server),
	                                .server_call_id = server_call_id,
	                                .xlat_call_id = xlat};
	__u64 w;

	__builtin_memcpy(&w, &s, sizeof(w));
	return w;
}

/* Frees the outbound GRE index slot @call holds, if it still names the call. */
static __always_inline void pptp_gre_unindex(struct vpnpt_pptp_call *call, __be16 xlat)
{
	__u32 idx = call->gre_slot - 1;
	__u64 *s = bpf_map_lookup_elem(&vpnpt_pptp_gre_out_v2, &idx);

	if (s)
		__sync_val_compare_and_swap(s, pptp_gre_word(call, call->server_call_id, xlat), 0);
	call->gre_slot = 0;
}

/* Whether the call in slot @owner (host order) carries (@server, @server_call_id) now for a host other than @client. */
static __always_inline int pptp_carries_for_other(__u16 owner, __be32 server, __be16 server_call_id, __be32 client)
{
	struct vpnpt_pptp_call *c = pptp_slot(bpf_htons(owner));

	return c && vpnpt_pptp_quotable(c, server, server_call_id) && c->client != client;
}

#define QUOTE_NO_SLOT VPNPT_QUOTE_SLOTS

/*
 * Tells the ICMP quote index (abi/vpnpt_abi.h) that call @xlat of host
 * @client carries (@server, @server_call_id): the pair's slot names it, or
 * becomes shared if a live call of another host carries the pair too (two
 * calls of one host share nothing: either names the host). Called once the call is
 * published ESTABLISHED, at the call's first outbound GRE (bpf/proto/gre.h): an
 * error can only quote GRE the call sent, and the shallow GRE path keeps
 * the call chain within 6.1's 512-byte combined stack (the control walk,
 * where calls are answered, does not). A daemon recount that read the slot
 * before this change fails its compare-and-swap; one that reads it after
 * sees the call. A lost race looks again; a full run is left to the daemon's recount.
 *
 * A global function, verified once on its own: inlined into the control
 * walk that establishes calls, its probe loops multiplied the states the
 * verifier explores in the TC program past its limit.
 */
__attribute__((noinline)) int pptp_quote_note(__be32 server, __be16 server_call_id, __be16 xlat, __be32 client)
{
	struct vpnpt_run r = vpnpt_quote_run(server, server_call_id);
	__u16 me = bpf_ntohs(xlat);

	for (int attempt = 0; attempt < 3; attempt++) {
		__u32 found = QUOTE_NO_SLOT, empty = QUOTE_NO_SLOT;
		__u64 seen = 0;
		for (__u32 i = 0; i < VPNPT_QUOTE_PROBES; i++) {
			__u32 idx = vpnpt_run_slot(&r, i);
			__u64 *w = bpf_map_lookup_elem(&vpnpt_pptp_quote_v1, &idx);
			if (!w)
				continue;
			__u64 v = *(volatile __u64 *)w;
			if (!v && empty == QUOTE_NO_SLOT)
				empty = idx;
			if (v && found == QUOTE_NO_SLOT && vpnpt_quote_slot_of(v).tag == r.tag) {
				found = idx;
				seen = v;
			}
		}
		if (found == QUOTE_NO_SLOT)
			found = empty;
		if (found == QUOTE_NO_SLOT)
			return 0; /* a full run: the daemon's recount adds it once a slot frees */
		struct vpnpt_quote_slot q = vpnpt_quote_slot_of(seen);
		int other = seen && !q.shared && q.owner != me &&
		            pptp_carries_for_other(q.owner, server, server_call_id, client);
		__u64 next = vpnpt_quote_noted(seen, r.tag, me, other);
		if (next == seen)
			return 0;
		__u64 *w = bpf_map_lookup_elem(&vpnpt_pptp_quote_v1, &found);
		if (w && __sync_val_compare_and_swap(w, seen, next) == seen)
			return 0;
	}
	return 0;
}

/*
 * The server answered the call: outbound GRE (keyed by its id) may now flow.
 * An answer naming another server id than before (the client asked again
 * with the same Call ID on the same connection, so it got the same call)
 * moves the call's index slot to the new id.
 */
static __always_inline enum vpnpt_reason pptp_establish(struct vpnpt_pptp_call *call, __be16 xlat,
                                                        __be16 server_call_id)
{
	if (call->gre_slot && call->server_call_id == server_call_id) {
		/* The answer again (a retransmission): the index already has it. */
		call->state = VPNPT_PPTP_CALL_ESTABLISHED;
		call->last_seen_ns = vpnpt_now_ns();
		return VPNPT_REASON_NONE;
	}

	__u64 packed = pptp_gre_word(call, server_call_id, xlat);
	struct vpnpt_run r = vpnpt_pptp_gre_run(call->client, call->server, server_call_id);

	for (__u32 i = 0; i < VPNPT_PPTP_GRE_PROBES; i++) {
		__u32 idx = vpnpt_run_slot(&r, i);
		__u64 *s = bpf_map_lookup_elem(&vpnpt_pptp_gre_out_v2, &idx);
		if (!s || *s)
			continue;
		if (__sync_val_compare_and_swap(s, 0, packed) != 0)
			continue;
		if (call->gre_slot)
			pptp_gre_unindex(call, xlat);
		call->gre_slot = idx + 1;
		call->server_call_id = server_call_id;
		call->quote_noted = 0; /* its next outbound GRE tells the quote index (bpf/proto/gre.h) */
		call->state = VPNPT_PPTP_CALL_ESTABLISHED;
		call->last_seen_ns = vpnpt_now_ns();
		return VPNPT_REASON_NONE;
	}
	return VPNPT_REASON_PPTP_TABLE_FULL;
}

static __always_inline void pptp_close(struct vpnpt_pptp_call *call)
{
	if (call->state != VPNPT_PPTP_CALL_CLOSING) {
		call->state = VPNPT_PPTP_CALL_CLOSING;
		call->closed_ns = vpnpt_now_ns();
	}
}

#endif
