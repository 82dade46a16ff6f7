/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time configuration, set by the loader in .rodata before load so the
 * verifier prunes the code a configuration does not use. Every combination
 * is loaded by tests/packet/test_load.cpp to catch verifier regressions.
 */
#ifndef VPNPT_BPF_LOAD_CONFIG_H
#define VPNPT_BPF_LOAD_CONFIG_H

#include "bpf/lib/common.h"

/* VLAN tags to look through (0..VPNPT_VLAN_DEPTH_MAX). Deeper stacks are counted and passed. */
const volatile __u32 cfg_vlan_depth = VPNPT_VLAN_DEPTH_MAX;
/* The ingress device has no link-layer header (an L3 WAN such as ppp0; TC hook only). */
const volatile __u8 cfg_no_l2 = 0;
/* Emit malformed-packet events into the ring buffer (off: counters only). */
const volatile __u8 cfg_events = 1;
/* Per-LAN-host shares of the session tables (abi/vpnpt_abi.h, vpnpt_host_quota). */
const volatile __u32 cfg_host_max_calls = VPNPT_HOST_MAX_CALLS;
const volatile __u32 cfg_host_max_streams = VPNPT_HOST_MAX_STREAMS;
const volatile __u32 cfg_host_max_sas = VPNPT_HOST_MAX_SAS;
/* Reuse a FIB answer (fwd.h) or a NAT-T conntrack answer (natt.h) for at most this many ns; 0 = always ask. */
const volatile __u64 cfg_fib_cache_ns = VPNPT_FIB_CACHE_NS_DEFAULT;
/* Forwarded NAT-T renews its answered conntrack entry's timeout to this (conntrack.h); 0 = never. */
const volatile __u32 cfg_natt_ct_timeout_ms = VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT;

#endif
