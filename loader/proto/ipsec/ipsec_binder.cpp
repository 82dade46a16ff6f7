#include "loader/proto/ipsec/ipsec_binder.h"

#include <algorithm>
#include <cstdio>

#include "abi/vpnpt_abi.h"
#include "loader/core/netif.h"

namespace vpnpt {

bool creates_child_sa(const IkeMessage& m) {
  if (m.version == 2) return m.exchange == kIkeV2Auth || m.exchange == kIkeV2CreateChildSa;
  return m.version == 1 && m.exchange == kIkeV1QuickMode;
}

namespace {
// Which sides of an IKEv1 Quick Mode have spoken (the map value).
constexpr int kFromHost = 1, kFromServer = 2, kBothSides = kFromHost | kFromServer;

// Exchanges still under way: IKEv2 ones are erased when they finish; IKEv1
// Quick Modes stay (their third message follows) once both sides spoke.
template <class Map>
bool any_in_flight(const Map& exchanges) {
  for (const auto& [k, sides] : exchanges)
    if (sides != kBothSides) return true;
  return false;
}
}  // namespace

bool IpsecBinder::advance(Owner& o, const IkeMessage& m, uint64_t now) {
  auto k = key_of(m);
  bool finished = false;
  if (m.version == 2) {
    if (!m.response) {
      o.exchanges.try_emplace(k, 0);  // a new exchange (or a retransmission of one)
    } else if (o.exchanges.erase(k)) {
      finished = true;
    }
  } else {
    // IKEv1 Quick Mode: the SAs are up once the server answered the host's request; two
    // messages of one side (retransmissions, junk) prove nothing.
    int& sides = o.exchanges[k];
    int before = sides;
    sides |= m.from_host ? kFromHost : kFromServer;
    finished = before != kBothSides && sides == kBothSides;
  }
  if (finished) {
    o.phase = Phase::Pending;
    o.unbound++;
    o.deadline = now + ns(cfg_.hold);
  } else if (o.phase == Phase::InFlight) {
    o.deadline = now + ns(cfg_.hold);
  }
  return finished;
}

IkeVerdict IpsecBinder::on_ike(const IkeMessage& m, uint64_t ticket, uint64_t now) {
  if (!creates_child_sa(m)) return IkeVerdict::Pass;
  Server& s = servers_[m.server];
  auto& o = s.owner;

  if (o && o->host == m.host) {
    advance(*o, m, now);  // every exchange of the owner counts, however many run back to back
    return IkeVerdict::Pass;
  }
  bool request = m.version == 2 ? !m.response : true;
  if (!request) return IkeVerdict::Pass;  // completes an exchange already under way: not ours to order
  if (!o && s.held.empty()) {
    o = Owner{m.host, Phase::InFlight, now + ns(cfg_.hold), 0, {}};
    advance(*o, m, now);
    // A new exchange supersedes the host's own stale candidacy with that server.
    std::erase_if(s.stale, [&](const Stale& st) { return st.host == m.host; });
    return IkeVerdict::Pass;
  }
  size_t here = static_cast<size_t>(
      std::count_if(s.held.begin(), s.held.end(), [&](const Held& h) { return h.msg.host == m.host; }));
  size_t& everywhere = held_by_host_[m.host];
  if (here >= kHeldPerHostServer || everywhere >= kHeldPerHost) {
    stats_.held_over_share++;
    return IkeVerdict::Drop;
  }
  everywhere++;
  s.held.push_back({m, ticket, now});
  stats_.holds++;
  return IkeVerdict::Hold;
}

void IpsecBinder::note_unheld(const Held& h) {
  auto it = held_by_host_.find(h.msg.host);
  if (it != held_by_host_.end() && --it->second == 0) held_by_host_.erase(it);
}

std::string esp_spi_text(uint32_t server, uint32_t spi) {
  char spitxt[16];
  std::snprintf(spitxt, sizeof(spitxt), "0x%08x", spi);
  return "ESP from " + format_ipv4(server) + " SPI " + spitxt;
}

BindResult IpsecBinder::on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now) {
  BindResult r;
  std::string what = esp_spi_text(server, spi);
  auto it = servers_.find(server);
  if (it == servers_.end()) {
    stats_.refused_no_owner++;
    r.refusal = VPNPT_REFUSE_NO_OWNER;
    r.why = what + " not bound: no LAN host finished a CHILD_SA exchange with that server recently";
    return r;
  }
  Server& s = it->second;
  std::erase_if(s.stale, [&](const Stale& st) { return now > st.until; });
  bool pending = s.owner && s.owner->phase == Phase::Pending && now <= s.owner->deadline;
  size_t candidates = (pending ? 1 : 0) + s.stale.size();

  if (candidates == 0) {
    if (s.owner && s.owner->phase == Phase::InFlight) {
      stats_.refused_in_flight++;
      r.refusal = VPNPT_REFUSE_IN_FLIGHT;
      r.owner = s.owner->host;
      r.why =
          what + " not bound yet: " + format_ipv4(s.owner->host) + "'s exchange with that server is still under way";
    } else {
      stats_.refused_no_owner++;
      r.refusal = VPNPT_REFUSE_NO_OWNER;
      r.why = what + " not bound: no LAN host finished a CHILD_SA exchange with that server recently";
    }
    return r;
  }
  if (candidates > 1) {
    // Two hosts could own it: refuse rather than guess. If more distinct SPIs are
    // speaking than the pending owner can account for, a stale host's server is
    // evidently one of them: keep the stale candidates. (If only the owner's own
    // SA speaks, the stale ones simply run out and the owner gets its SPI.)
    stats_.refused_ambiguous++;
    r.refusal = VPNPT_REFUSE_AMBIGUOUS;
    if (pending) r.owner = s.owner->host;
    s.ambiguous.insert(spi);
    size_t owner_can_explain = pending ? s.owner->unbound : 0;
    if (s.ambiguous.size() > owner_can_explain)
      for (auto& st : s.stale) st.until = now + ns(cfg_.stale);
    std::string who;
    if (pending) who = format_ipv4(s.owner->host);
    for (const auto& st : s.stale) who += (who.empty() ? "" : ", ") + format_ipv4(st.host);
    r.why = what + " not bound: it could belong to any of " + who +
            " (a server answered after its host's window closed); refused rather than guessed";
    return r;
  }
  r.bound = true;
  stats_.bound++;
  s.ambiguous.erase(spi);
  if (pending) {
    r.host = s.owner->host;
    if (--s.owner->unbound == 0) {
      if (!any_in_flight(s.owner->exchanges)) {
        s.owner.reset();
        release_next(server, s, now, pending_releases_);
      } else {
        s.owner->phase = Phase::InFlight;  // more of its exchanges are still under way
        s.owner->deadline = now + ns(cfg_.hold);
      }
    }
  } else {
    r.host = s.stale.front().host;  // the only candidate: a late but unambiguous first packet
    s.stale.clear();
  }
  r.why = what + " bound to " + format_ipv4(r.host);
  return r;
}

void IpsecBinder::release_next(uint32_t, Server& s, uint64_t now, std::vector<Release>& out) {
  // Drop requests that waited too long (their clients retransmit), then hand the server to the next host.
  while (!s.held.empty() && now - s.held.front().since > ns(cfg_.max_wait)) {
    out.push_back({s.held.front().ticket, false});
    stats_.hold_expired++;
    note_unheld(s.held.front());
    s.held.pop_front();
  }
  if (s.owner || s.held.empty()) return;
  const IkeMessage first = s.held.front().msg;
  s.owner = Owner{first.host, Phase::InFlight, now + ns(cfg_.hold), 0, {}};
  std::erase_if(s.stale, [&](const Stale& st) { return st.host == first.host; });
  // Release every held request of that host (retransmissions included); others keep waiting.
  for (auto it = s.held.begin(); it != s.held.end();) {
    if (it->msg.host == first.host) {
      advance(*s.owner, it->msg, now);
      out.push_back({it->ticket, true});
      note_unheld(*it);
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
    std::erase_if(s.stale, [&](const Stale& st) { return now > st.until; });
    if (s.stale.empty()) s.ambiguous.clear();
    // A pending owner blocked by stale candidates (ambiguity, not silence) keeps its window.
    if (s.owner && s.owner->phase == Phase::Pending && !s.stale.empty())
      s.owner->deadline = std::max(s.owner->deadline, now + ns(cfg_.hold));
    if (s.owner && now > s.owner->deadline) {
      if (s.owner->unbound > 0) {
        // Its server has not spoken within the window: others may go, but the owner stays a
        // candidate for a while, so its late first SPI can never be handed to someone else.
        stats_.windows_expired++;
        s.stale.push_back({s.owner->host, now + ns(cfg_.stale)});
      }
      s.owner.reset();
    }
    release_next(server, s, now, out);
  }
  return out;
}

bool IpsecBinder::has_candidates(uint32_t server, uint64_t now) const {
  auto it = servers_.find(server);
  if (it == servers_.end()) return false;
  const Server& s = it->second;
  return s.owner || std::any_of(s.stale.begin(), s.stale.end(), [&](const Stale& st) { return now <= st.until; });
}

std::optional<uint32_t> IpsecBinder::owner_of(uint32_t server) const {
  auto it = servers_.find(server);
  if (it == servers_.end() || !it->second.owner) return std::nullopt;
  return it->second.owner->host;
}

uint64_t IpsecBinder::owner_ms_left(uint32_t server, uint64_t now) const {
  auto it = servers_.find(server);
  if (it == servers_.end() || !it->second.owner || it->second.owner->deadline < now) return 0;
  return (it->second.owner->deadline - now) / 1000000ull;
}

size_t IpsecBinder::held_count() const {
  size_t n = 0;
  for (const auto& [k, s] : servers_) n += s.held.size();
  return n;
}

}  // namespace vpnpt
