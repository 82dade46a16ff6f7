/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bench-only build variant (tools/bench/CMakeLists.txt, -include): vpnpt's data plane
 * with bpf_ktime_get_ns replaced by bpf_ktime_get_coarse_ns (jiffies resolution, no
 * clock-source read), to measure what the per-packet clock read costs. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define bpf_ktime_get_ns bpf_ktime_get_coarse_ns
