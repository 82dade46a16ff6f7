#include "loader/core/log_subject.h"
#include "loader/proto/pptp/pptp_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "loader/core/clock.h"
#include "loader/core/map_dump.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

uint64_t ns(std::chrono::seconds s) { return static_cast<uint64_t>(s.count()) * 1000000000ull; }

std::string call_name(const PptpCall& p) {
  return format_ipv4(p.call.client) + " call " + std::to_string(ntohs(p.call.client_call_id)) + " -> " +
         format_ipv4(p.call.server) + " as " + std::to_string(p.xlat);
}

LogSubject subject(const PptpCall& p) { return {p.call.client, p.call.server, "pptp"}; }

// Connections that ended, as the calls remember them.
struct Ended {
  bool lan_side;  // identified by (client, client port, server), else by (server, public port)
  uint32_t client, server;
  uint16_t port;
};

// When each live control connection last carried a segment (any message,
// Echo-Request/Reply included, or a bare ACK), by either side's identity.
struct ConnSeen {
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, uint64_t> lan;  // (client, server, client port)
  std::map<std::pair<uint32_t, uint16_t>, uint64_t> wan;             // (server, public port)

  // The latest sign of life of @c's control connection, 0 if none is tracked.
  uint64_t of(const vpnpt_pptp_call& c) const {
    uint64_t t = 0;
    if (auto it = lan.find({c.client, c.server, c.ctrl_client_port}); it != lan.end()) t = it->second;
    if (c.ctrl_public_port)
      if (auto it = wan.find({c.server, c.ctrl_public_port}); it != wan.end()) t = std::max(t, it->second);
    return t;
  }
};

bool belongs(const Ended& e, const vpnpt_pptp_call& c) {
  if (c.server != e.server) return false;
  if (e.lan_side) return c.client == e.client && c.ctrl_client_port == e.port;
  return c.ctrl_public_port == e.port && c.ctrl_public_port != 0;
}

}  // namespace

PptpSlowPath::PptpSlowPath(PptpMaps maps, PptpTimeouts t, OnClose on_close)
    : m_(maps), t_(t), on_close_(std::move(on_close)) {
  auto table = PptpCallTable::map(maps.calls, maps.gre_out);
  if (!table) {
    ready_ = table.error();
    return;
  }
  table_.emplace(std::move(*table));
  if (maps.quote < 0) return;
  auto quote = QuoteIndex::map(maps.quote, VPNPT_MAP_PPTP_QUOTE);
  if (!quote) {
    ready_ = quote.error();
    return;
  }
  quote_.emplace(std::move(*quote));
}

QuoteRecount PptpSlowPath::recount_quotes() const {
  if (!table_ || !quote_) return {};
  return quote_->recount([this] {
    std::vector<QuoteSession> live;
    for (const auto& p : table_->live())
      if (vpnpt_pptp_quotable(&p.call, p.call.server, p.call.server_call_id))
        live.push_back({p.call.server, p.call.server_call_id, p.xlat, p.call.client});
    return live;
  });
}

uint32_t PptpSlowPath::on_disconnect(uint32_t server, uint16_t server_call_id, uint16_t public_port, uint64_t now_ns) {
  uint32_t n = 0;
  if (!table_) return 0;
  for (auto& p : table_->live()) {
    auto& c = p.call;
    if (c.server != server || c.server_call_id != server_call_id || c.ctrl_public_port != public_port) continue;
    if (c.state == VPNPT_PPTP_CALL_CLOSING) continue;
    if (table_->close(p, now_ns)) {
      log_about(subject(p), spdlog::level::info, "PPTP call closed by the server: {}", call_name(p));
      closed(p, VPNPT_CLOSE_CDN);
      ++n;
    }
  }
  return n;
}

PptpSweepStats PptpSlowPath::sweep(uint64_t now) {
  PptpSweepStats st;
  std::vector<Ended> ended;
  ConnSeen seen;
  if (!table_) return st;

  for (auto& [k, s] : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m_.streams)) {
    bool idle = now > s.last_seen_ns && now - s.last_seen_ns > ns(t_.stream_idle);
    bool fin = s.t.flags & VPNPT_PPTP_STREAM_FIN;
    if (fin || idle || (s.t.flags & VPNPT_PPTP_STREAM_STOPPED)) {
      if (s.client)
        ended.push_back({true, s.client, k.daddr, s.client_port});  // LAN side: client -> server
      else
        ended.push_back({false, 0, k.saddr, k.dport});  // WAN side: server -> public
    } else if (s.client) {
      seen.lan[{s.client, k.daddr, s.client_port}] = s.last_seen_ns;
    } else {
      seen.wan[{k.saddr, k.dport}] = s.last_seen_ns;
    }
    if (idle || (fin && now > s.last_seen_ns && now - s.last_seen_ns > ns(t_.fin_grace))) {
      bpf_map_delete_elem(m_.streams, &k);
      ++st.streams_reaped;
    }
  }

  for (auto& p : table_->live()) {
    auto& c = p.call;
    // A call lives as long as its control connection proves the peers alive
    // (RFC 2637 2.6: Echo-Request every 60 s), GRE or not.
    uint64_t last = std::max<uint64_t>(c.last_seen_ns, seen.of(c));
    uint64_t since_seen = now > last ? now - last : 0;
    uint64_t age = now > c.created_ns ? now - c.created_ns : 0;
    if (c.state == VPNPT_PPTP_CALL_CLOSING) {
      if (now > c.closed_ns && now - c.closed_ns > ns(t_.closing_grace) && table_->free(p, now)) ++st.reaped;
      continue;
    }
    bool conn_gone = false;
    for (const auto& e : ended) conn_gone = conn_gone || belongs(e, c);
    if (conn_gone) {
      if (table_->close(p, now)) {
        log_about(subject(p), spdlog::level::info, "PPTP call closed with its control connection: {}", call_name(p));
        closed(p, VPNPT_CLOSE_CONNECTION);
        ++st.closed;
      }
    } else if (c.state == VPNPT_PPTP_CALL_REQUESTED && age > ns(t_.unanswered) && table_->free(p, now)) {
      log_about(subject(p), spdlog::level::info, "PPTP call expired, the server never answered within {} s: {}",
                t_.unanswered.count(), call_name(p));
      closed(p, VPNPT_CLOSE_UNANSWERED);
      ++st.expired_unanswered;
    } else if (c.state == VPNPT_PPTP_CALL_ESTABLISHED && since_seen > ns(t_.idle) && table_->free(p, now)) {
      log_about(subject(p), spdlog::level::info, "PPTP call expired after {} s without GRE or its control connection: {}",
                t_.idle.count(), call_name(p));
      closed(p, VPNPT_CLOSE_IDLE);
      ++st.expired_idle;
    }
  }
  recount_quotes();
  return st;
}

uint32_t PptpSlowPath::flush() {
  uint32_t n = 0;
  const uint64_t now = monotonic_ns();
  // A call a hook moved between the read and the free is read again (a few times at most).
  for (int pass = 0; table_ && pass < 3; ++pass) {
    bool moved = false;
    for (const auto& p : table_->live()) {
      if (!table_->free(p, now)) {
        moved = true;
        continue;
      }
      if (p.call.state != VPNPT_PPTP_CALL_CLOSING) closed(p, VPNPT_CLOSE_FLUSHED);
      ++n;
    }
    if (!moved) break;
  }
  for (auto& [k, s] : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m_.streams))
    bpf_map_delete_elem(m_.streams, &k);
  recount_quotes();
  return n;
}

}  // namespace vpnpt
