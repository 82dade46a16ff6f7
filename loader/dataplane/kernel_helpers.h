// Detects the kernel's own PPTP NAT helper. When it is attached to a
// connection it rewrites Call IDs too, and two translators on one stream
// break it; vpnpt then defers PPTP to the kernel (and says so) rather than
// translate twice. See docs/pptp.md.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

// True if an nftables ct helper of type "pptp" exists, or an iptables CT
// rule assigns the pptp helper. @evidence receives what was found.
bool kernel_pptp_helper_present(std::string* evidence);

// The conntrack timeout of a UDP flow that has seen replies
// (net.netfilter.nf_conntrack_udp_timeout_stream of the current netns), in ms;
// VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT if it cannot be read.
uint32_t udp_stream_timeout_ms();

// vpnpt's hook programs call conntrack kfuncs (bpf/lib/conntrack.h), which the
// kernel has only while nf_conntrack is loaded; Debian builds it as a module
// that nothing loads before the first NAT or stateful rule, and libbpf then
// fails with "extern (func ksym) 'bpf_ct_change_timeout': not found".
// Loads it (modprobe) if /sys/module/nf_conntrack is missing; the error
// names the module and the fix.
Status ensure_conntrack_module();

}  // namespace vpnpt
