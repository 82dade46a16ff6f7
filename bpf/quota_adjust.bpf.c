// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Adds signed differences to one LAN host's quota counts, atomically. The
 * daemon runs it (BPF_PROG_TEST_RUN) after counting the session tables: a
 * plain map update from user space would overwrite the counts the data
 * plane raised while the daemon counted, and a flooding host would get
 * more than its share (abi/vpnpt_abi.h, struct vpnpt_quota_adjust).
 */
#include "bpf/lib/quota_map.h"

static const struct vpnpt_host_quota quota_none = {};

SEC("syscall")
int quota_adjust(struct vpnpt_quota_adjust *a)
{
	__be32 host = a->host;
	struct vpnpt_host_quota *q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);

	if (!q) {
		bpf_map_update_elem(&vpnpt_host_quota_v1, &host, &quota_none, BPF_NOEXIST);
		q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);
		if (!q)
			return -1;
	}
	/* 32-bit adds wrap: a count briefly below zero stays right modulo 2^32 */
	if (a->pptp_calls)
		__sync_fetch_and_add(&q->pptp_calls, a->pptp_calls);
	if (a->pptp_streams)
		__sync_fetch_and_add(&q->pptp_streams, a->pptp_streams);
	if (a->esp_sas)
		__sync_fetch_and_add(&q->esp_sas, a->esp_sas);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
