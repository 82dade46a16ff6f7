/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PPTP call table: allocating a translated Call ID that is unique
 * toward one server, and the look-ups the control-message rewriter needs.
 *
 * Allocation keeps the client's own id when no other client uses it toward
 * that server (most calls are not translated at all), otherwise probes
 * random ids. Inserting (server, id) with BPF_NOEXIST is the reservation,
 * atomic across CPUs, so an id in use toward a server is never handed out
 * twice. Allocation is idempotent while the call lives: the same (client,
 * server, client id) gets the same translated id, which makes duplicate
 * requests safe. Once that call is closing, the same client id starts a new
 * call with a fresh translated id (the closing one stays reserved until the
 * daemon reaps it).
 */
#ifndef VPNPT_BPF_PPTP_CALLS_H
#define VPNPT_BPF_PPTP_CALLS_H

#include "quota.h"
#include "maps.h"

#define PPTP_ALLOC_TRIES 16

/* Control connection identity recorded with each call (LAN side). */
struct pptp_ctrl_id {
	__be32 client;
	__be32 server;
	__be16 client_port;
	__u16 pad;
	__u32 lan_ifindex;
};

/* Finds the translated id a client's call already has. */
static __always_inline struct vpnpt_pptp_xlat *pptp_find_own(__be32 client, __be32 server, __be16 client_call_id,
							       __be16 ctrl_port)
{
	struct vpnpt_pptp_client_key k = {.client = client, .server = server, .client_call_id = client_call_id,
					  .ctrl_port = ctrl_port};

	return bpf_map_lookup_elem(&vpnpt_pptp_by_client_v2, &k);
}

/*
 * Reserves a translated id for (client, server, client_call_id), or returns
 * the one it already has. *xlat receives it (network order).
 */
static __always_inline enum vpnpt_reason pptp_alloc(const struct pptp_ctrl_id *cid, __be16 client_call_id,
						     __be16 *xlat)
{
	struct vpnpt_pptp_xlat *have = pptp_find_own(cid->client, cid->server, client_call_id, cid->client_port);
	__u64 index_flags = BPF_NOEXIST;
	if (have) {
		struct vpnpt_pptp_call_key ok = {.server = cid->server, .xlat_call_id = have->xlat_call_id};
		struct vpnpt_pptp_call *old = bpf_map_lookup_elem(&vpnpt_pptp_calls_v1, &ok);
		if (old && old->state != VPNPT_PPTP_CALL_CLOSING && old->client == cid->client) {
			*xlat = have->xlat_call_id;
			return VPNPT_REASON_NONE;
		}
		/* The index names a closing (or reaped) call: the client reuses its Call ID for a
		 * new call, e.g. after reconnecting or a refused request. Give it a fresh one. */
		index_flags = BPF_ANY;
	}

	if (!quota_take(cid->client, QUOTA_CALLS))
		return VPNPT_REASON_PPTP_HOST_QUOTA;
	__u32 zero = 0;
	struct vpnpt_pptp_call *call = bpf_map_lookup_elem(&vpnpt_scratch_call, &zero);
	if (!call) {
		quota_give(cid->client, QUOTA_CALLS);
		return VPNPT_REASON_PPTP_TABLE_FULL;
	}
	__u64 now = bpf_ktime_get_ns();
	__builtin_memset(call, 0, sizeof(*call));
	call->client = cid->client;
	call->client_call_id = client_call_id;
	call->lan_ifindex = cid->lan_ifindex;
	call->state = VPNPT_PPTP_CALL_REQUESTED;
	call->ctrl_client = cid->client;
	call->ctrl_client_port = cid->client_port;
	call->created_ns = now;
	call->last_seen_ns = now;
	struct vpnpt_pptp_call_key ck = {.server = cid->server, .xlat_call_id = client_call_id};
	int err = -EEXIST;

	for (int i = 0; i < PPTP_ALLOC_TRIES; i++) {
		err = bpf_map_update_elem(&vpnpt_pptp_calls_v1, &ck, call, BPF_NOEXIST);
		if (err != -EEXIST)
			break;
		/* 1..65535; 0 stays reserved for the client's own choice (pptpd uses it). */
		ck.xlat_call_id = bpf_htons((__u16)(bpf_get_prandom_u32() % 65535 + 1));
	}
	if (err) {
		quota_give(cid->client, QUOTA_CALLS);
		return err == -EEXIST ? VPNPT_REASON_PPTP_ID_EXHAUSTED : VPNPT_REASON_PPTP_TABLE_FULL;
	}

	struct vpnpt_pptp_client_key k = {.client = cid->client, .server = cid->server, .client_call_id = client_call_id,
					  .ctrl_port = cid->client_port};
	struct vpnpt_pptp_xlat x = {.xlat_call_id = ck.xlat_call_id};
	err = bpf_map_update_elem(&vpnpt_pptp_by_client_v2, &k, &x, index_flags);
	if (err) {
		/* Lost a race with another CPU for the same call, or the index is full. */
		bpf_map_delete_elem(&vpnpt_pptp_calls_v1, &ck);
		quota_give(cid->client, QUOTA_CALLS);
		have = pptp_find_own(cid->client, cid->server, client_call_id, cid->client_port);
		if (!have)
			return VPNPT_REASON_PPTP_TABLE_FULL;
		*xlat = have->xlat_call_id;
		return VPNPT_REASON_NONE;
	}
	*xlat = ck.xlat_call_id;
	return VPNPT_REASON_NONE;
}

static __always_inline struct vpnpt_pptp_call *pptp_call(__be32 server, __be16 xlat)
{
	struct vpnpt_pptp_call_key ck = {.server = server, .xlat_call_id = xlat};

	return bpf_map_lookup_elem(&vpnpt_pptp_calls_v1, &ck);
}

/* The server answered the call: outbound GRE (keyed by its id) may now flow. */
static __always_inline enum vpnpt_reason pptp_establish(struct vpnpt_pptp_call *call, __be32 server, __be16 xlat,
							__be16 server_call_id)
{
	struct vpnpt_pptp_gre_key gk = {.client = call->client, .server = server, .server_call_id = server_call_id};
	struct vpnpt_pptp_xlat x = {.xlat_call_id = xlat};

	if (bpf_map_update_elem(&vpnpt_pptp_gre_out_v1, &gk, &x, BPF_ANY))
		return VPNPT_REASON_PPTP_TABLE_FULL;
	call->server_call_id = server_call_id;
	call->state = VPNPT_PPTP_CALL_ESTABLISHED;
	call->last_seen_ns = bpf_ktime_get_ns();
	return VPNPT_REASON_NONE;
}

static __always_inline void pptp_close(struct vpnpt_pptp_call *call)
{
	if (call->state != VPNPT_PPTP_CALL_CLOSING) {
		call->state = VPNPT_PPTP_CALL_CLOSING;
		call->closed_ns = bpf_ktime_get_ns();
	}
}

#endif
