#include "loader/cli/sessions.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "abi/vpnpt_abi.h"
#include "loader/core/clock.h"
#include "loader/proto/ipsec/esp_table.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/core/map_dump.h"
#include "loader/core/netif.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/proto/pptp/pptp_slowpath.h"

namespace vpnpt {

using nlohmann::json;

namespace {

double secs(uint64_t now, uint64_t then) { return now > then ? (now - then) / 1e9 : 0.0; }

// A PPTP call's or an L2TP tunnel's state, as listed.
const char* session_state_name(uint32_t s) {
  switch (s) {
    case VPNPT_SESSION_REQUESTED: return "requested";
    case VPNPT_SESSION_ESTABLISHED: return "established";
    case VPNPT_SESSION_CLOSING: return "closing";
    default: return "unknown";
  }
}

std::string hex32(uint32_t v) { return fmt::format("0x{:08x}", v); }

}  // namespace

Result<json> sessions_json(const AttachmentId& id, const SessionFilter& f) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");
  uint64_t now = monotonic_ns();
  json rows = json::array();
  auto want = [&](const char* proto, uint32_t host) {
    return (f.proto.empty() || f.proto == proto) && (!f.host || *f.host == host);
  };

  auto pptp = maps->pptp();
  for (const auto& [xlat, c] : live_pptp_calls(pptp.calls)) {
    if (!want("pptp", c.client)) continue;
    rows.push_back({{"proto", "pptp"},
                    {"host", format_ipv4(c.client)},
                    {"server", format_ipv4(c.server)},
                    {"ids",
                     {{"client_call_id", ntohs(c.client_call_id)},
                      {"translated_call_id", xlat},
                      {"server_call_id", ntohs(c.server_call_id)},
                      {"control_port", ntohs(c.ctrl_client_port)},
                      {"public_control_port", ntohs(c.ctrl_public_port)}}},
                    {"state", session_state_name(c.state)},
                    {"age_s", secs(now, c.created_ns)},
                    {"idle_s", secs(now, c.last_seen_ns)},
                    {"packets_out", c.packets_out},
                    {"bytes_out", c.bytes_out},
                    {"packets_in", c.packets_in},
                    {"bytes_in", c.bytes_in}});
  }

  // Raw ESP: one session per (host, server) pair, with the SPIs of both directions.
  struct Pair {
    std::vector<uint32_t> out, in;
    uint64_t created = UINT64_MAX, last = 0, pk_out = 0, by_out = 0, pk_in = 0, by_in = 0;
  };
  std::map<std::pair<uint32_t, uint32_t>, Pair> pairs;
  auto ipsec = maps->ipsec();
  for (bool inbound : {false, true}) {
    for (const auto& [slot, sa] : live_esp_sas(inbound ? ipsec.esp_in : ipsec.esp_out)) {
      Pair& p = pairs[{sa.host, sa.server}];
      (inbound ? p.in : p.out).push_back(ntohl(sa.spi));
      p.created = std::min<uint64_t>(p.created, sa.created_ns);
      p.last = std::max<uint64_t>(p.last, sa.last_seen_ns);
      (inbound ? p.pk_in : p.pk_out) += sa.packets;
      (inbound ? p.by_in : p.by_out) += sa.bytes;
    }
  }
  for (const auto& [hs, p] : pairs) {
    if (!want("ipsec", hs.first)) continue;
    json out = json::array(), in = json::array();
    for (uint32_t s : p.out) out.push_back(hex32(s));
    for (uint32_t s : p.in) in.push_back(hex32(s));
    rows.push_back({{"proto", "ipsec"},
                    {"host", format_ipv4(hs.first)},
                    {"server", format_ipv4(hs.second)},
                    {"ids", {{"spi_out", out}, {"spi_in", in}}},
                    {"state", p.in.empty() ? "waiting for inbound SPI" : "bound"},
                    {"age_s", secs(now, p.created)},
                    {"idle_s", secs(now, p.last)},
                    {"packets_out", p.pk_out},
                    {"bytes_out", p.by_out},
                    {"packets_in", p.pk_in},
                    {"bytes_in", p.by_in}});
  }
  // L2TP: one row per tunnel. A source's outbound packets to one server are counted on one of its
  // tunnels there (they all leave from one port; the data plane cannot tell them apart by tunnel).
  for (const auto& [xid, t] : live_l2tp_tunnels(maps->l2tp().tunnels)) {
    if (!want("l2tp", t.client)) continue;
    bool port_nat = t.flags & VPNPT_L2TP_F_PORT_NAT;
    rows.push_back({{"proto", "l2tp"},
                    {"host", format_ipv4(t.client)},
                    {"server", format_ipv4(t.server)},
                    {"ids",
                     {{"client_tunnel_id", ntohs(t.client_tunnel_id)},
                      {"translated_tunnel_id", port_nat ? json(nullptr) : json(xid)},
                      {"server_tunnel_id", ntohs(t.server_tunnel_id)},
                      {"client_port", ntohs(t.client_port)},
                      {"public_port", ntohs(t.public_port)},
                      {"server_port", ntohs(t.server_port)},
                      {"per_port_nat", port_nat},
                      {"sessions", t.sessions}}},
                    {"state", session_state_name(t.state)},
                    {"age_s", secs(now, t.created_ns)},
                    {"idle_s", secs(now, std::max(t.last_seen_ns, t.last_out_ns))},
                    {"packets_out", t.packets_out},
                    {"bytes_out", t.bytes_out},
                    {"packets_in", t.packets_in},
                    {"bytes_in", t.bytes_in}});
  }
  return rows;
}

std::string sessions_text(const json& rows) {
  std::string out = fmt::format("{:<6} {:<15} {:<15} {:<36} {:<23} {:>8} {:>7} {:>10} {:>10}\n", "proto", "host",
                                "server", "ids", "state", "age", "idle", "pkts out", "pkts in");
  for (const auto& r : rows) {
    std::string ids;
    const auto& i = r["ids"];
    if (r["proto"] == "pptp")
      ids = fmt::format("call {} -> {} (server {})", i["client_call_id"].get<int>(), i["translated_call_id"].get<int>(),
                        i["server_call_id"].get<int>());
    else if (r["proto"] == "l2tp")
      ids = i["per_port_nat"].get<bool>()
                ? fmt::format("tunnel {} port {} -> {}", i["client_tunnel_id"].get<int>(), i["client_port"].get<int>(),
                              i["public_port"].get<int>())
                : fmt::format("tunnel {} -> {} (server {})", i["client_tunnel_id"].get<int>(),
                              i["translated_tunnel_id"].get<int>(), i["server_tunnel_id"].get<int>());
    else if (r["proto"] == "ipsec")
      ids = fmt::format("spi out {} in {}", i["spi_out"].empty() ? "-" : i["spi_out"][0].get<std::string>(),
                        i["spi_in"].empty() ? "-" : i["spi_in"][0].get<std::string>());
    out += fmt::format("{:<6} {:<15} {:<15} {:<36} {:<23} {:>7.0f}s {:>6.0f}s {:>10} {:>10}\n",
                       r["proto"].get<std::string>(), r["host"].get<std::string>(), r["server"].get<std::string>(), ids,
                       r["state"].get<std::string>(), r["age_s"].get<double>(), r["idle_s"].get<double>(),
                       r["packets_out"].get<uint64_t>(), r["packets_in"].get<uint64_t>());
  }
  if (rows.empty()) out += "(no sessions)\n";
  return out;
}

}  // namespace vpnpt
