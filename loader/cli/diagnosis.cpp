#include "loader/cli/diagnosis.h"

#include <fmt/format.h>
#include <time.h>

#include <string_view>

#include "loader/core/daemon_lock.h"
#include "loader/core/names.h"
#include "loader/core/netif.h"
#include "loader/core/protocols.h"
#include "loader/daemon/diag_ring.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/undelivered.h"

namespace vpnpt {
namespace {

using nlohmann::json;

std::string ip(uint32_t a) { return format_ipv4(a); }
std::string spi_text(uint32_t spi) { return fmt::format("0x{:08x}", spi); }

std::string ago(uint64_t then, uint64_t now) {
  if (now <= then) return "just now";
  uint64_t s = (now - then) / 1000000000ull;
  if (s < 120) return fmt::format("{} s ago", s);
  if (s < 7200) return fmt::format("{} min ago", s / 60);
  return fmt::format("{} h ago", s / 3600);
}

// enum vpnpt_diag_close: {stable name, plain words}.
std::pair<const char*, const char*> close_names(uint32_t why) {
  switch (why) {
    case VPNPT_CLOSE_CDN: return {"server_disconnected", "the server disconnected it"};
    case VPNPT_CLOSE_CONNECTION: return {"control_connection_ended", "its control connection ended"};
    case VPNPT_CLOSE_UNANSWERED: return {"unanswered", "the server never answered the request"};
    case VPNPT_CLOSE_IDLE: return {"idle", "no traffic for too long"};
    case VPNPT_CLOSE_FLUSHED: return {"flushed", "the protocol's passthrough was switched off or handed to the kernel"};
    case VPNPT_CLOSE_STOPCCN: return {"stopccn", "StopCCN (the client or the server closed the tunnel)"};
    default: return {"unknown", "it ended"};
  }
}

const char* esp_refusal_name(uint32_t r) {
  switch (r) {
    case VPNPT_REFUSE_IN_FLIGHT: return "in_flight";
    case VPNPT_REFUSE_AMBIGUOUS: return "ambiguous";
    default: return "no_owner";
  }
}

const char* l2tp_refusal_name(uint32_t r) {
  switch (r) {
    case VPNPT_L2TP_REFUSE_NO_ID: return "no_free_id";
    case VPNPT_L2TP_REFUSE_TABLE_FULL: return "table_full";
    case VPNPT_L2TP_REFUSE_MALFORMED: return "malformed";
    case VPNPT_L2TP_REFUSE_NO_PORT: return "no_free_port";
    case VPNPT_L2TP_REFUSE_STALE: return "stale";
    case VPNPT_L2TP_REFUSE_HOST_QUOTA: return "host_quota";
    case VPNPT_L2TP_REFUSE_SWITCHED_OFF: return "switched_off";
    default: return "unknown";
  }
}

std::string l2tp_refusal_advice(uint32_t r) {
  switch (r) {
    case VPNPT_L2TP_REFUSE_NO_ID:
    case VPNPT_L2TP_REFUSE_TABLE_FULL:
    case VPNPT_L2TP_REFUSE_NO_PORT:
    case VPNPT_L2TP_REFUSE_HOST_QUOTA: return "vpnpt sessions --proto l2tp lists the tunnels that hold them";
    case VPNPT_L2TP_REFUSE_SWITCHED_OFF: return "vpnpt set l2tp on";
    default: return "";
  }
}

// The protocol a reason belongs to, from its name's prefix (abi/reasons.def).
std::string reason_protocol(uint32_t reason) {
  std::string_view n = reason_name(reason);
  auto has = [&](std::string_view p) { return n.substr(0, p.size()) == p; };
  if (has("pptp_") || has("gre_")) return "pptp";
  if (has("ipsec_") || has("esp_") || has("ah_") || has("natt_")) return "ipsec";
  if (has("l2tp_")) return "l2tp";
  return "";
}

// The PPTP call (server, translated id) that ended most recently before @e.
const vpnpt_diag_entry* ended_call(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history) {
  const vpnpt_diag_entry* found = nullptr;
  for (const auto& h : history)
    if (h.seq < e.seq && h.kind == VPNPT_DIAG_PPTP_CLOSED && h.server == e.server && h.id == e.id) found = &h;
  return found;
}

// A packet the data plane did not translate (VPNPT_DIAG_PACKET).
void explain_packet(Finding& f, const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history, uint64_t now) {
  f.kind = "untranslated";
  f.reason = reason_name(e.reason);
  f.protocol = reason_protocol(e.reason);
  switch (e.reason) {
    case VPNPT_REASON_PPTP_OFF:
    case VPNPT_REASON_IPSEC_OFF:
    case VPNPT_REASON_L2TP_OFF: {
      const Protocol& p = *find_protocol(f.protocol);
      f.what = fmt::format("{} between {} and {}: {} passthrough is switched off{}", p.title, ip(e.host), ip(e.server),
                           p.title, e.reason == VPNPT_REASON_PPTP_OFF ? ", or handed to the kernel's PPTP helper" : "");
      f.advice = fmt::format("vpnpt set {} on{}", p.key,
                             e.reason == VPNPT_REASON_PPTP_OFF ? " (vpnpt status says which)" : "");
      return;
    }
    case VPNPT_REASON_L2TP_NO_TUNNEL:
      f.ids = {{"tunnel_id", e.id}};
      f.what = fmt::format(
          "L2TP from {} for unknown Tunnel ID {}: no tunnel through vpnpt uses it (set up before vpnpt ran, ended, or "
          "set up by the kernel's NAT while the daemon was down?)",
          ip(e.server), e.id);
      f.advice = "reconnect that VPN";
      return;
    case VPNPT_REASON_GRE_NO_CALL:
      f.ids = {{"call_id", e.id}};
      if (const auto* c = ended_call(e, history)) {
        f.host = c->host;
        f.what = fmt::format("GRE from {} with unknown Call ID {} (call of {} cleared {}: {})", ip(e.server), e.id,
                             ip(c->host), ago(c->wall_ns, now), close_names(c->reason).second);
        return;
      }
      f.what = fmt::format(
          "GRE from {} with unknown Call ID {}: no PPTP call through vpnpt uses it (set up before vpnpt ran?)",
          ip(e.server), e.id);
      f.advice = "reconnect that VPN";
      return;
    case VPNPT_REASON_PPTP_HELD:
      f.what = fmt::format(
          "PPTP control segment {} -> {} held until its Call ID could be rewritten; TCP resends it (harmless unless "
          "it repeats)",
          ip(e.host), ip(e.server));
      return;
    case VPNPT_REASON_PPTP_FOREIGN_ID:
      f.what = fmt::format("{} tried to clear another host's PPTP call toward {}: dropped", ip(e.host), ip(e.server));
      return;
    case VPNPT_REASON_PPTP_ID_EXHAUSTED:
      f.what =
          fmt::format("{}'s PPTP call to {} failed: no free Call ID left toward that server", ip(e.host), ip(e.server));
      f.advice = "vpnpt sessions --proto pptp lists the calls to that server";
      return;
    case VPNPT_REASON_PPTP_TABLE_FULL:
    case VPNPT_REASON_PPTP_STREAM_FULL:
      f.what = fmt::format("{}'s PPTP call to {} failed: vpnpt's PPTP tables are full", ip(e.host), ip(e.server));
      f.advice = "vpnpt status shows how full; vpnpt sessions --proto pptp what holds them";
      return;
    default:
      f.what = fmt::format("{} packet {} -> {} not translated: {}", dir_name(e.dir), ip(e.host ? e.host : e.server),
                           ip(e.host ? e.server : e.other_host), reason_text(e.reason));
  }
}

// The words and keys of a PPTP call's or an L2TP tunnel's findings.
struct SessionWords {
  const char* up_kind;     // "pptp_call_up"
  const char* ended_kind;  // "pptp_call_ended"
  const char* protocol;
  const char* session;     // "PPTP call"
  const char* id_name;     // "Call ID"
  const char* client_key;  // "call_id"
  const char* server_key;  // "server_call_id"
};
constexpr SessionWords kPptpCall{"pptp_call_up", "pptp_call_ended", "pptp",          "PPTP call",
                                 "Call ID",      "call_id",         "server_call_id"};
constexpr SessionWords kL2tpTunnel{"l2tp_tunnel_up", "l2tp_tunnel_ended", "l2tp", "L2TP tunnel", "Tunnel ID",
                                   "tunnel_id",      "server_tunnel_id"};

// Set up (VPNPT_DIAG_PPTP_CALL, _L2TP_TUNNEL): id = client's id << 16 | the id the server sees.
void session_up(Finding& f, const vpnpt_diag_entry& e, const SessionWords& w, const std::string& note = "") {
  f.kind = w.up_kind;
  f.protocol = w.protocol;
  f.ids = {{w.client_key, e.id >> 16}, {w.server_key, e.id & 0xffff}};
  f.what = fmt::format("{} set up: {} {} {} -> {}, seen by the server as {} {}{}", w.session, ip(e.host), w.id_name,
                       e.id >> 16, ip(e.server), w.id_name, e.id & 0xffff, note);
}

// Ended (VPNPT_DIAG_*_CLOSED): id is the server's id.
void session_ended(Finding& f, const vpnpt_diag_entry& e, const SessionWords& w) {
  f.kind = w.ended_kind;
  f.protocol = w.protocol;
  f.ids = {{w.server_key, e.id}};
  f.reason = close_names(e.reason).first;
  f.what = fmt::format("{} of {} to {} (server sees {} {}) ended: {}", w.session, ip(e.host), ip(e.server), w.id_name,
                       e.id, close_names(e.reason).second);
}

std::string rfc3339(uint64_t wall_ns) {
  time_t s = static_cast<time_t>(wall_ns / 1000000000ull);
  tm t{};
  gmtime_r(&s, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                     t.tm_min, t.tm_sec, (wall_ns / 1000000ull) % 1000);
}

json or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json ip_or_null(uint32_t a) { return a ? json(ip(a)) : json(nullptr); }

Finding standing(std::string kind, std::string protocol, std::string what, std::string advice) {
  Finding f;
  f.kind = std::move(kind);
  f.protocol = std::move(protocol);
  f.what = std::move(what);
  f.advice = std::move(advice);
  return f;
}

}  // namespace

Finding explain(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history, uint64_t now) {
  Finding f;
  f.wall_ns = e.wall_ns;
  f.host = e.host;
  f.server = e.server;
  f.other_host = e.other_host;
  switch (e.kind) {
    case VPNPT_DIAG_ESP_BOUND:
      f.kind = "esp_bound";
      f.protocol = "ipsec";
      f.ids = {{"spi", spi_text(e.id)}};
      f.what = fmt::format("ESP from {} SPI {} bound to {}", ip(e.server), spi_text(e.id), ip(e.host));
      break;
    case VPNPT_DIAG_ESP_REFUSED:
      f.kind = "esp_refused";
      f.protocol = "ipsec";
      f.ids = {{"spi", spi_text(e.id)}};
      f.reason = esp_refusal_name(e.reason);
      if (e.reason == VPNPT_REFUSE_IN_FLIGHT) {
        f.what = fmt::format(
            "ESP from {} SPI {} not bound yet: {}'s IKE exchange with that server is still under way (serialised); "
            "it binds as soon as that exchange finishes",
            ip(e.server), spi_text(e.id), ip(e.other_host));
      } else if (e.reason == VPNPT_REFUSE_AMBIGUOUS) {
        f.what = fmt::format(
            "ESP from {} SPI {} not bound: two hosts are negotiating with that server and it could belong to "
            "either{}; refused rather than guessed",
            ip(e.server), spi_text(e.id), e.other_host ? " (" + ip(e.other_host) + " is waiting for its SA)" : "");
        f.advice = "if it persists, restart the tunnel of the host whose server answered late";
      } else {
        f.what = fmt::format(
            "ESP from {} SPI {} not bound: no LAN host finished a CHILD_SA exchange with that server recently (a "
            "tunnel set up before vpnpt ran, or while its daemon was down?)",
            ip(e.server), spi_text(e.id));
        f.advice = "restart that VPN connection";
      }
      break;
    case VPNPT_DIAG_IKE_HELD:
      f.kind = "ike_held";
      f.protocol = "ipsec";
      f.ids = {{"held_ms_left", e.aux}};
      f.what = fmt::format(
          "IKE from {} to {} held: two hosts are negotiating with that server, waiting for {} (serialised, {:.1f} s "
          "left)",
          ip(e.host), ip(e.server), ip(e.other_host), e.aux / 1000.0);
      break;
    case VPNPT_DIAG_PPTP_CALL: session_up(f, e, kPptpCall); break;
    case VPNPT_DIAG_PPTP_CLOSED: session_ended(f, e, kPptpCall); break;
    case VPNPT_DIAG_L2TP_TUNNEL:
      if (e.aux & VPNPT_L2TP_F_PORT_NAT) {
        f.kind = kL2tpTunnel.up_kind;
        f.protocol = kL2tpTunnel.protocol;
        f.ids = {{"per_port_nat", true}};
        f.what = fmt::format(
            "L2TP tunnel set up: {} -> {} with a hidden Tunnel ID: told apart by its own public port (per-port NAT)",
            ip(e.host), ip(e.server));
      } else {
        session_up(f, e, kL2tpTunnel, (e.id >> 16) == (e.id & 0xffff) ? "" : " (rewritten: another client uses it)");
      }
      break;
    case VPNPT_DIAG_L2TP_CLOSED: session_ended(f, e, kL2tpTunnel); break;
    case VPNPT_DIAG_L2TP_REFUSED:
      f.kind = "l2tp_refused";
      f.protocol = "l2tp";
      f.reason = l2tp_refusal_name(e.reason);
      f.what = fmt::format("{}'s L2TP tunnel request to {} was not forwarded: {}", ip(e.host), ip(e.server),
                           l2tp_refusal_text(e.reason));
      f.advice = l2tp_refusal_advice(e.reason);
      break;
    case VPNPT_DIAG_PACKET: explain_packet(f, e, history, now); break;
    default: f.kind = "unknown"; f.what = "an entry this build does not know (kind " + std::to_string(e.kind) + ")";
  }
  return f;
}

bool concerns(const vpnpt_diag_entry& e, uint32_t host, const std::vector<vpnpt_diag_entry>& history) {
  if (e.host == host || e.other_host == host) return true;
  if (e.kind == VPNPT_DIAG_PACKET && e.reason == VPNPT_REASON_GRE_NO_CALL) {
    const auto* c = ended_call(e, history);
    return c && c->host == host;
  }
  return false;
}

std::string finding_text(const Finding& f, uint64_t now) {
  std::string when = f.wall_ns ? ago(*f.wall_ns, now) : std::string("now");
  return when + ": " + f.what + (f.advice.empty() ? "" : "; " + f.advice);
}

json finding_json(const Finding& f, uint64_t now) {
  return {{"time", f.wall_ns ? json(rfc3339(*f.wall_ns)) : json(nullptr)},
          {"age_s", f.wall_ns ? json(*f.wall_ns < now ? (now - *f.wall_ns) / 1000000000ull : 0) : json(nullptr)},
          {"standing", !f.wall_ns},
          {"kind", f.kind},
          {"protocol", or_null(f.protocol)},
          {"host", ip_or_null(f.host)},
          {"server", ip_or_null(f.server)},
          {"other_host", ip_or_null(f.other_host)},
          {"ids", f.ids},
          {"reason", or_null(f.reason)},
          {"message", f.what},
          {"advice", or_null(f.advice)},
          {"text", finding_text(f, now)}};
}

Result<std::vector<Finding>> diagnose(const AttachmentId& id, std::optional<uint32_t> host, size_t max) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");
  std::vector<Finding> out;

  // Standing conditions first: they explain everything below them.
  if (auto cfg = maps->config()) {
    for (const auto& p : kProtocols) {
      std::string key(p.key), title(p.title);
      if (!(cfg->switches & p.switch_bit))
        out.push_back(
            standing("switched_off", key, title + " passthrough is switched off", "vpnpt set " + key + " on"));
      else if (cfg->deferred & p.switch_bit)
        out.push_back(standing("deferred_to_kernel_helper", key,
                               title + " is handed to the kernel's own helper, which supports one call per control "
                                       "connection",
                               "remove that helper to let vpnpt translate"));
    }
  }
  if (daemon_info(id.lock_path).state != DaemonState::Running)
    out.push_back(standing("daemon_down", "",
                           "the vpnpt daemon is not running: established sessions keep flowing, but new IPsec SAs "
                           "cannot be bound and PPTP calls are not expired",
                           "start `vpnpt attach` again (systemctl start vpnpt)"));
  for (const auto& u : read_undelivered(id.pin_dir)) {
    Finding f = standing("undelivered", "",
                         fmt::format("{} frames vpnpt forwarded from {} were not delivered: {}", u.frames,
                                     ifname_of(u.from_ifindex), undelivered_reason(u)),
                         "");
    f.ids = {{"frames", u.frames}, {"from", ifname_of(u.from_ifindex)}};
    out.push_back(std::move(f));
  }

  auto history = read_diag(maps->diag_fd());
  uint64_t now = wall_ns();
  for (auto it = history.rbegin(); it != history.rend() && out.size() < max; ++it) {
    if (host && !concerns(*it, *host, history)) continue;
    out.push_back(explain(*it, history, now));
  }
  return out;
}

}  // namespace vpnpt
