#include "loader/dataplane/ip_passthrough.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include <charconv>

#include "loader/core/map_dump.h"
#include "loader/core/netif.h"
#include "loader/dataplane/pinned_maps.h"

namespace vpnpt {

const std::vector<std::string>& default_local_ports() {
  static const std::vector<std::string> ports{"tcp/22", "udp/68"};
  return ports;
}

Result<vpnpt_local_port_key> parse_local_port(const std::string& spec) {
  auto slash = spec.find('/');
  std::string proto = spec.substr(0, slash);
  vpnpt_local_port_key k{};
  if (proto == "tcp")
    k.proto = IPPROTO_TCP;
  else if (proto == "udp")
    k.proto = IPPROTO_UDP;
  if (slash == std::string::npos || !k.proto)
    return make_error("local port '" + spec + "' is not tcp/PORT or udp/PORT (e.g. tcp/22)");
  unsigned port = 0;
  const char* b = spec.data() + slash + 1;
  const char* e = spec.data() + spec.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || port == 0 || port > 65535)
    return make_error("local port '" + spec + "' has an invalid port number (1..65535)");
  k.port = htons(static_cast<uint16_t>(port));
  return k;
}

std::string format_local_port(const vpnpt_local_port_key& k) {
  return std::string(k.proto == IPPROTO_TCP ? "tcp/" : "udp/") + std::to_string(ntohs(k.port));
}

Status check_passthrough_host(uint32_t host, uint32_t public_ip) {
  uint32_t h = ntohl(host);
  if (h == 0 || h == 0xffffffffu) return make_error(format_ipv4(host) + " cannot be a passthrough host");
  if ((h >> 24) == 127) return make_error(format_ipv4(host) + " is a loopback address, not a LAN host");
  if ((h >> 28) == 0xe) return make_error(format_ipv4(host) + " is a multicast address, not a LAN host");
  if (host == public_ip) return make_error(format_ipv4(host) + " is the router's public address, not a LAN host");
  return {};
}

Status set_ip_passthrough(const AttachmentId& id, std::optional<uint32_t> host,
                          const std::optional<std::vector<std::string>>& local_ports) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");
  auto cfg = maps->config();
  if (!cfg) return cfg.error();
  if (host) VPNPT_TRY(check_passthrough_host(*host, cfg->public_ip));

  // Parse everything before changing anything: a bad port leaves the old state.
  std::vector<vpnpt_local_port_key> keys;
  const auto& specs = local_ports ? *local_ports : default_local_ports();
  for (const auto& s : specs) {
    auto k = parse_local_port(s);
    if (!k) return k.error();
    keys.push_back(*k);
  }
  if (keys.size() > VPNPT_MAX_LOCAL_PORTS)
    return make_error("too many local ports (at most " + std::to_string(VPNPT_MAX_LOCAL_PORTS) + ")");
  int lp = maps->local_ports_fd();
  bool have_ports = !dump_map<vpnpt_local_port_key, uint8_t>(lp).empty();
  if (local_ports || !have_ports) {
    // Add the new ports first, then remove the old ones: the router's ports are never exposed in between.
    uint8_t one = 1;
    for (const auto& k : keys)
      if (bpf_map_update_elem(lp, &k, &one, BPF_ANY) != 0) return make_error("cannot write the local-port map", errno);
    for (const auto& [k, v] : dump_map<vpnpt_local_port_key, uint8_t>(lp)) {
      bool keep = false;
      for (const auto& n : keys) keep |= n.port == k.port && n.proto == k.proto;
      if (!keep) bpf_map_delete_elem(lp, &k);
    }
  }
  cfg->passthrough_host = host.value_or(0);
  cfg->generation++;
  VPNPT_TRY(maps->set_config(*cfg));
  if (!host)
    for (const auto& kv : dump_map<vpnpt_pt_flow_key, vpnpt_pt_flow>(maps->pt_flows_fd()))
      bpf_map_delete_elem(maps->pt_flows_fd(), &kv.first);
  return {};
}

}  // namespace vpnpt
