#include "loader/ipsec_binder.h"

#include <cstdio>

#include "loader/netif.h"

namespace vpnpt {

bool creates_child_sa(const IkeMessage& m) {
  if (m.version == 2) return m.exchange == kIkeV2Auth || m.exchange == kIkeV2CreateChildSa;
  return m.version == 1 && m.exchange == kIkeV1QuickMode;
}

IkeVerdict IpsecBinder::on_ike(const IkeMessage& m, uint64_t ticket, uint64_t now) {
  if (!creates_child_sa(m)) return IkeVerdict::Pass;
  Server& s = servers_[m.server];
  auto& o = s.owner;

  // Does this message belong to the owner's exchange (or another of the owner's)?
  if (o && o->host == m.host) {
    bool same = o->ispi == m.ispi && o->msgid == m.msgid && o->exchange == m.exchange;
    if (m.version == 2) {
      if (!m.response) {
        // The owner starts (or retransmits) an exchange: it stays the owner.
        if (!same) {
          o->ispi = m.ispi;
          o->msgid = m.msgid;
          o->exchange = m.exchange;
          if (o->phase == Phase::InFlight) o->deadline = now + ns(cfg_.hold);
        }
      } else if (same && o->phase == Phase::InFlight) {
        o->phase = Phase::Pending;  // the exchange finished: the next unknown SPI from the server is this host's
        o->unbound++;
        o->deadline = now + ns(cfg_.hold);
      } else if (same || o->phase == Phase::Pending) {
        if (!same) {  // a further exchange of the owner finished
          o->unbound++;
          o->deadline = now + ns(cfg_.hold);
        }
      }
    } else {
      // IKEv1 Quick Mode: three messages with one message ID; the SAs are up after the second.
      if (!same) {
        o->ispi = m.ispi;
        o->msgid = m.msgid;
        o->exchange = m.exchange;
        o->messages = 0;
      }
      if (++o->messages == 2) {
        o->phase = Phase::Pending;
        o->unbound++;
        o->deadline = now + ns(cfg_.hold);
      }
    }
    return IkeVerdict::Pass;
  }

  bool request = m.version == 2 ? !m.response : true;
  if (!o && s.held.empty()) {
    if (!request) return IkeVerdict::Pass;  // a response to an exchange we never saw start: not ours to order
    o = Owner{m.host, Phase::InFlight, now + ns(cfg_.hold), 0, m.ispi, m.msgid, m.exchange, m.version == 1 ? 1 : 0};
    return IkeVerdict::Pass;
  }
  if (!request) return IkeVerdict::Pass;  // only requests are held: a response completes an exchange already under way
  // Another host owns this server's next SPI (or others queue before us): wait.
  s.held.push_back({m, ticket, now});
  stats_.holds++;
  return IkeVerdict::Hold;
}

BindResult IpsecBinder::on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now) {
  BindResult r;
  auto it = servers_.find(server);
  char spitxt[16];
  std::snprintf(spitxt, sizeof(spitxt), "0x%08x", spi);
  std::string what = std::string("ESP from ") + format_ipv4(server) + " SPI " + spitxt;
  if (it == servers_.end() || !it->second.owner) {
    stats_.refused_no_owner++;
    r.why = what + " not bound: no LAN host finished a CHILD_SA exchange with that server recently";
    return r;
  }
  Server& s = it->second;
  Owner& o = *s.owner;
  if (o.phase == Phase::InFlight) {
    stats_.refused_in_flight++;
    r.why = what + " not bound yet: " + format_ipv4(o.host) + "'s exchange with that server is still under way";
    return r;
  }
  if (now > o.deadline) {
    stats_.refused_timeout++;
    r.why = what + " not bound: " + format_ipv4(o.host) + "'s binding window had closed";
    return r;
  }
  r.bound = true;
  r.host = o.host;
  r.why = what + " bound to " + format_ipv4(o.host);
  stats_.bound++;
  if (--o.unbound == 0) {
    s.owner.reset();
    release_next(server, s, now, pending_releases_);
  }
  return r;
}

void IpsecBinder::release_next(uint32_t, Server& s, uint64_t now, std::vector<Release>& out) {
  // Drop requests that waited too long (their clients retransmit), then hand the server to the next host.
  while (!s.held.empty() && now - s.held.front().since > ns(cfg_.max_wait)) {
    out.push_back({s.held.front().ticket, false});
    stats_.hold_expired++;
    s.held.pop_front();
  }
  if (s.owner || s.held.empty()) return;
  const IkeMessage& first = s.held.front().msg;
  uint32_t next = first.host;
  s.owner = Owner{next, Phase::InFlight, now + ns(cfg_.hold), 0, first.ispi, first.msgid, first.exchange,
                  first.version == 1 ? 1 : 0};
  // Release every held request of that host (retransmissions included); others keep waiting.
  for (auto it = s.held.begin(); it != s.held.end();) {
    if (it->msg.host == next) {
      out.push_back({it->ticket, true});
      it = s.held.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<Release> IpsecBinder::tick(uint64_t now) {
  std::vector<Release> out = std::move(pending_releases_);
  pending_releases_.clear();
  for (auto& [server, s] : servers_) {
    if (s.owner && now > s.owner->deadline) {
      if (s.owner->phase == Phase::Pending) stats_.refused_timeout += s.owner->unbound;
      s.owner.reset();  // the server never answered with ESP (or IKE) in time: refuse, do not guess
    }
    release_next(server, s, now, out);
  }
  return out;
}

std::optional<uint32_t> IpsecBinder::owner_of(uint32_t server) const {
  auto it = servers_.find(server);
  if (it == servers_.end() || !it->second.owner) return std::nullopt;
  return it->second.owner->host;
}

size_t IpsecBinder::held_count() const {
  size_t n = 0;
  for (const auto& [k, s] : servers_) n += s.held.size();
  return n;
}

}  // namespace vpnpt
