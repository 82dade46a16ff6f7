// Compile-time guards: the C++ view of the ABI must match the BPF one
// byte for byte. A failing assert here means maps/vpnpt_abi.h changed in a
// way that also needs a new pin name suffix.
#include <cstddef>

#include "../maps/vpnpt_abi.h"

static_assert(sizeof(vpnpt_counter) == 16);
static_assert(offsetof(vpnpt_counter, packets) == 0);
static_assert(offsetof(vpnpt_counter, bytes) == 8);

static_assert(sizeof(vpnpt_config) == 16);
static_assert(offsetof(vpnpt_config, public_ip) == 0);
static_assert(offsetof(vpnpt_config, wan_ifindex) == 4);
static_assert(offsetof(vpnpt_config, switches) == 8);
static_assert(offsetof(vpnpt_config, generation) == 12);

static_assert(sizeof(vpnpt_iface) == 16);
static_assert(offsetof(vpnpt_iface, role) == 0);
static_assert(offsetof(vpnpt_iface, xdp_mode) == 4);
static_assert(offsetof(vpnpt_iface, prog_id) == 8);
static_assert(offsetof(vpnpt_iface, flags) == 12);

static_assert(sizeof(vpnpt_event) == 32);
static_assert(offsetof(vpnpt_event, ktime_ns) == 0);
static_assert(offsetof(vpnpt_event, kind) == 8);
static_assert(offsetof(vpnpt_event, reason) == 12);
static_assert(offsetof(vpnpt_event, ifindex) == 16);
static_assert(offsetof(vpnpt_event, dir) == 20);
static_assert(offsetof(vpnpt_event, cls) == 21);
static_assert(offsetof(vpnpt_event, ip_proto) == 22);
static_assert(offsetof(vpnpt_event, saddr) == 24);
static_assert(offsetof(vpnpt_event, daddr) == 28);

static_assert(VPNPT_COUNTER_SLOTS == 2u * 10u);
static_assert(VPNPT_REASON_SLOTS == 2u * 9u);
