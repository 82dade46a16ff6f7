#include "loader/daemon/diag_ring.h"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>

#include "loader/core/names.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

std::string ip(uint32_t a) { return format_ipv4(a); }
std::string spi_text(uint32_t spi) { return fmt::format("0x{:08x}", spi); }

std::string ago(uint64_t then, uint64_t now) {
  if (now <= then) return "just now";
  uint64_t s = (now - then) / 1000000000ull;
  if (s < 120) return fmt::format("{} s ago", s);
  if (s < 7200) return fmt::format("{} min ago", s / 60);
  return fmt::format("{} h ago", s / 3600);
}

const char* close_text(uint32_t why) {
  switch (why) {
    case VPNPT_CLOSE_CDN: return "the server disconnected it";
    case VPNPT_CLOSE_CONNECTION: return "its control connection ended";
    case VPNPT_CLOSE_UNANSWERED: return "the server never answered the request";
    case VPNPT_CLOSE_IDLE: return "no traffic for too long";
    case VPNPT_CLOSE_FLUSHED: return "the protocol's passthrough was switched off or handed to the kernel";
    case VPNPT_CLOSE_STOPCCN: return "StopCCN (the client or the server closed the tunnel)";
    default: return "it ended";
  }
}

// The PPTP call (server, translated id) that ended most recently before @e.
const vpnpt_diag_entry* ended_call(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history) {
  const vpnpt_diag_entry* found = nullptr;
  for (const auto& h : history)
    if (h.seq < e.seq && h.kind == VPNPT_DIAG_PPTP_CLOSED && h.server == e.server && h.id == e.id) found = &h;
  return found;
}

}  // namespace

uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::vector<vpnpt_diag_entry> read_diag(int fd) {
  std::vector<vpnpt_diag_entry> out;
  for (uint32_t i = 0; i < VPNPT_DIAG_SLOTS; ++i) {
    vpnpt_diag_entry e{};
    if (bpf_map_lookup_elem(fd, &i, &e) == 0 && e.seq) out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

DiagRing::DiagRing(int fd) : fd_(fd) {
  // Continue after what an earlier daemon recorded.
  for (const auto& e : read_diag(fd_)) next_seq_ = std::max<uint64_t>(next_seq_, e.seq + 1);
}

void DiagRing::record(vpnpt_diag_entry e) {
  e.seq = next_seq_++;
  e.wall_ns = wall_ns();
  uint32_t slot = static_cast<uint32_t>(e.seq % VPNPT_DIAG_SLOTS);
  bpf_map_update_elem(fd_, &slot, &e, BPF_ANY);
}

std::vector<vpnpt_diag_entry> DiagRing::entries() const { return read_diag(fd_); }

bool concerns(const vpnpt_diag_entry& e, uint32_t host, const std::vector<vpnpt_diag_entry>& history) {
  if (e.host == host || e.other_host == host) return true;
  if (e.kind == VPNPT_DIAG_PACKET && e.reason == VPNPT_REASON_GRE_NO_CALL) {
    const auto* c = ended_call(e, history);
    return c && c->host == host;
  }
  return false;
}

std::string explain(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history, uint64_t now) {
  std::string when = ago(e.wall_ns, now) + ": ";
  switch (e.kind) {
    case VPNPT_DIAG_ESP_BOUND:
      return when + fmt::format("ESP from {} SPI {} bound to {}", ip(e.server), spi_text(e.id), ip(e.host));
    case VPNPT_DIAG_ESP_REFUSED:
      switch (e.reason) {
        case VPNPT_REFUSE_IN_FLIGHT:
          return when + fmt::format(
                            "ESP from {} SPI {} not bound yet: {}'s IKE exchange with that server is still under way "
                            "(serialised); it binds as soon as that exchange finishes",
                            ip(e.server), spi_text(e.id), ip(e.other_host));
        case VPNPT_REFUSE_AMBIGUOUS:
          return when +
                 fmt::format(
                     "ESP from {} SPI {} not bound: two hosts are negotiating with that server and it could "
                     "belong to either{}; refused rather than guessed. If it persists, restart the tunnel of the "
                     "host whose server answered late",
                     ip(e.server), spi_text(e.id),
                     e.other_host ? " (" + ip(e.other_host) + " is waiting for its SA)" : "");
        default:
          return when + fmt::format(
                            "ESP from {} SPI {} not bound: no LAN host finished a CHILD_SA exchange with that server "
                            "recently (a tunnel set up before vpnpt ran, or while its daemon was down?); restart that "
                            "VPN connection",
                            ip(e.server), spi_text(e.id));
      }
    case VPNPT_DIAG_IKE_HELD:
      return when + fmt::format(
                        "IKE from {} to {} held: two hosts are negotiating with that server, waiting for {} "
                        "(serialised, {:.1f} s left)",
                        ip(e.host), ip(e.server), ip(e.other_host), e.aux / 1000.0);
    case VPNPT_DIAG_PPTP_CALL:
      return when + fmt::format("PPTP call set up: {} Call ID {} -> {}, seen by the server as Call ID {}", ip(e.host),
                                e.id >> 16, ip(e.server), e.id & 0xffff);
    case VPNPT_DIAG_PPTP_CLOSED:
      return when + fmt::format("PPTP call of {} to {} (server sees Call ID {}) ended: {}", ip(e.host), ip(e.server),
                                e.id, close_text(e.reason));
    case VPNPT_DIAG_L2TP_TUNNEL:
      if (e.aux & VPNPT_L2TP_F_PORT_NAT)
        return when + fmt::format(
                          "L2TP tunnel set up: {} -> {} with a hidden Tunnel ID: told apart by its own public "
                          "port (per-port NAT)",
                          ip(e.host), ip(e.server));
      return when + fmt::format("L2TP tunnel set up: {} Tunnel ID {} -> {}, seen by the server as Tunnel ID {}{}",
                                ip(e.host), e.id >> 16, ip(e.server), e.id & 0xffff,
                                (e.id >> 16) == (e.id & 0xffff) ? "" : " (rewritten: another client uses it)");
    case VPNPT_DIAG_L2TP_CLOSED:
      return when + fmt::format("L2TP tunnel of {} to {} (server sees Tunnel ID {}) ended: {}", ip(e.host),
                                ip(e.server), e.id, close_text(e.reason));
    case VPNPT_DIAG_L2TP_REFUSED:
      return when + fmt::format("{}'s L2TP tunnel request to {} was not forwarded: {}", ip(e.host), ip(e.server),
                                l2tp_refusal_text(e.reason));
    case VPNPT_DIAG_PACKET: break;
    default: return when + "unknown entry";
  }
  // A packet the data plane did not translate.
  switch (e.reason) {
    case VPNPT_REASON_PPTP_OFF:
      return when + fmt::format(
                        "PPTP between {} and {}: PPTP passthrough is switched off (vpnpt set pptp on), or "
                        "handed to the kernel's PPTP helper (see vpnpt status)",
                        ip(e.host), ip(e.server));
    case VPNPT_REASON_IPSEC_OFF:
      return when + fmt::format("IPsec between {} and {}: IPsec passthrough is switched off (vpnpt set ipsec on)",
                                ip(e.host), ip(e.server));
    case VPNPT_REASON_L2TP_OFF:
      return when + fmt::format("L2TP between {} and {}: L2TP passthrough is switched off (vpnpt set l2tp on)",
                                ip(e.host), ip(e.server));
    case VPNPT_REASON_L2TP_NO_TUNNEL:
      return when + fmt::format(
                        "L2TP from {} for unknown Tunnel ID {}: no tunnel through vpnpt uses it (set up before vpnpt "
                        "ran, ended, or set up by the kernel's NAT while the daemon was down? reconnect that VPN)",
                        ip(e.server), e.id);
    case VPNPT_REASON_GRE_NO_CALL: {
      const auto* c = ended_call(e, history);
      if (c)
        return when + fmt::format("GRE from {} with unknown Call ID {} (call of {} cleared {}: {})", ip(e.server), e.id,
                                  ip(c->host), ago(c->wall_ns, now), close_text(c->reason));
      return when + fmt::format(
                        "GRE from {} with unknown Call ID {}: no PPTP call through vpnpt uses it (set up before vpnpt "
                        "ran? reconnect that VPN)",
                        ip(e.server), e.id);
    }
    case VPNPT_REASON_PPTP_HELD:
      return when + fmt::format(
                        "PPTP control segment {} -> {} held until its Call ID could be rewritten; TCP resends "
                        "it (harmless unless it repeats)",
                        ip(e.host), ip(e.server));
    case VPNPT_REASON_PPTP_FOREIGN_ID:
      return when +
             fmt::format("{} tried to clear another host's PPTP call toward {}: dropped", ip(e.host), ip(e.server));
    case VPNPT_REASON_PPTP_ID_EXHAUSTED:
      return when + fmt::format("{}'s PPTP call to {} failed: no free Call ID left toward that server", ip(e.host),
                                ip(e.server));
    case VPNPT_REASON_PPTP_TABLE_FULL:
    case VPNPT_REASON_PPTP_STREAM_FULL:
      return when + fmt::format("{}'s PPTP call to {} failed: vpnpt's PPTP tables are full", ip(e.host), ip(e.server));
    default:
      return when + fmt::format("{} packet {} -> {} not translated: {}", dir_name(e.dir),
                                ip(e.host ? e.host : e.server), ip(e.host ? e.server : e.other_host),
                                reason_text(e.reason));
  }
}

}  // namespace vpnpt
