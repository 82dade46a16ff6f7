// IP passthrough (`vpnpt ip-passthrough <wan-if> <host>|off`): one LAN host
// gets the public address's unsolicited traffic, translated at XDP
// (bpf/proto/passthrough.h has the precedence). The host lives in the pinned
// config map, the router's own ports in a pinned set, so both take effect
// at once and survive daemon restarts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

// The router's own ports kept when the user names none: SSH and the DHCP client.
const std::vector<std::string>& default_local_ports();

// "tcp/22" or "udp/68" -> a local-port key.
Result<vpnpt_local_port_key> parse_local_port(const std::string& spec);
std::string format_local_port(const vpnpt_local_port_key& k);

// Checks that @host can be a passthrough host for @public_ip (network order both).
Status check_passthrough_host(uint32_t host, uint32_t public_ip);

// Sets (host) or clears (nullopt) IP passthrough. @local_ports, when given,
// replaces the router's port list; when the list is empty, the defaults are
// installed. Turning it off forgets every passthrough flow.
Status set_ip_passthrough(const AttachmentId& id, std::optional<uint32_t> host,
                          const std::optional<std::vector<std::string>>& local_ports);

}  // namespace vpnpt
