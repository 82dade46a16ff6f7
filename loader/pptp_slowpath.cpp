#include "loader/pptp_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <utility>

#include "loader/map_dump.h"
#include "loader/netif.h"

namespace vpnpt {
namespace {

uint64_t ns(std::chrono::seconds s) { return static_cast<uint64_t>(s.count()) * 1000000000ull; }

std::string call_name(const PptpCall& p) {
  return format_ipv4(p.call.client) + " call " + std::to_string(ntohs(p.call.client_call_id)) + " -> " +
         format_ipv4(p.call.server) + " as " + std::to_string(p.xlat);
}

// Connections that ended, as the calls remember them.
struct Ended {
  bool lan_side;      // identified by (client, client port, server), else by (server, public port)
  uint32_t client, server;
  uint16_t port;
};

bool belongs(const Ended& e, const vpnpt_pptp_call& c) {
  if (c.server != e.server) return false;
  if (e.lan_side) return c.client == e.client && c.ctrl_client_port == e.port;
  return c.ctrl_public_port == e.port && c.ctrl_public_port != 0;
}

}  // namespace

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

PptpSlowPath::PptpSlowPath(PptpMaps maps, PptpTimeouts t, OnClose on_close)
    : m_(maps), t_(t), on_close_(std::move(on_close)) {
  auto table = PptpCallTable::map(maps.calls, maps.gre_out);
  if (!table) {
    ready_ = table.error();
    return;
  }
  table_.emplace(std::move(*table));
}

uint32_t PptpSlowPath::on_disconnect(uint32_t server, uint16_t server_call_id, uint16_t public_port,
                                     uint64_t now_ns) {
  uint32_t n = 0;
  if (!table_) return 0;
  for (auto& p : table_->live()) {
    auto& c = p.call;
    if (c.server != server || c.server_call_id != server_call_id || c.ctrl_public_port != public_port) continue;
    if (c.state == VPNPT_PPTP_CALL_CLOSING) continue;
    if (table_->close(p, now_ns)) {
      spdlog::info("PPTP call closed by the server: {}", call_name(p));
      closed(p, VPNPT_CLOSE_CDN);
      ++n;
    }
  }
  return n;
}

PptpSweepStats PptpSlowPath::sweep(uint64_t now) {
  PptpSweepStats st;
  std::vector<Ended> ended;
  if (!table_) return st;

  for (auto& [k, s] : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m_.streams)) {
    bool idle = now > s.last_seen_ns && now - s.last_seen_ns > ns(t_.stream_idle);
    bool fin = s.flags & VPNPT_PPTP_STREAM_FIN;
    if (fin || idle || (s.flags & VPNPT_PPTP_STREAM_STOPPED)) {
      if (s.client) ended.push_back({true, s.client, k.daddr, s.client_port});  // LAN side: client -> server
      else ended.push_back({false, 0, k.saddr, k.dport});                       // WAN side: server -> public
    }
    if (idle || (fin && now > s.last_seen_ns && now - s.last_seen_ns > ns(t_.fin_grace))) {
      bpf_map_delete_elem(m_.streams, &k);
      ++st.streams_reaped;
    }
  }

  for (auto& p : table_->live()) {
    auto& c = p.call;
    uint64_t since_seen = now > c.last_seen_ns ? now - c.last_seen_ns : 0;
    uint64_t age = now > c.created_ns ? now - c.created_ns : 0;
    if (c.state == VPNPT_PPTP_CALL_CLOSING) {
      if (now > c.closed_ns && now - c.closed_ns > ns(t_.closing_grace) && table_->free(p)) ++st.reaped;
      continue;
    }
    bool conn_gone = false;
    for (const auto& e : ended) conn_gone = conn_gone || belongs(e, c);
    if (conn_gone) {
      if (table_->close(p, now)) {
        spdlog::info("PPTP call closed with its control connection: {}", call_name(p));
        closed(p, VPNPT_CLOSE_CONNECTION);
        ++st.closed;
      }
    } else if (c.state == VPNPT_PPTP_CALL_REQUESTED && age > ns(t_.unanswered) && table_->free(p)) {
      spdlog::info("PPTP call expired, the server never answered within {} s: {}", t_.unanswered.count(),
                   call_name(p));
      closed(p, VPNPT_CLOSE_UNANSWERED);
      ++st.expired_unanswered;
    } else if (c.state == VPNPT_PPTP_CALL_ESTABLISHED && since_seen > ns(t_.idle) && table_->free(p)) {
      spdlog::info("PPTP call expired after {} s idle: {}", t_.idle.count(), call_name(p));
      closed(p, VPNPT_CLOSE_IDLE);
      ++st.expired_idle;
    }
  }
  return st;
}

uint32_t PptpSlowPath::flush() {
  uint32_t n = 0;
  // A call a hook moved between the read and the free is read again (a few times at most).
  for (int pass = 0; table_ && pass < 3; ++pass) {
    bool moved = false;
    for (const auto& p : table_->live()) {
      if (!table_->free(p)) {
        moved = true;
        continue;
      }
      if (p.call.state != VPNPT_PPTP_CALL_CLOSING) closed(p, VPNPT_CLOSE_FLUSHED);
      ++n;
    }
    if (!moved) break;
  }
  for (auto& [k, s] : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m_.streams)) bpf_map_delete_elem(m_.streams, &k);
  return n;
}

}  // namespace vpnpt
