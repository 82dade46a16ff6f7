// Which LAN host owns an inbound ESP SPI? The SPIs of a CHILD_SA are agreed
// inside encrypted IKE, so the gateway learns them from traffic: an unknown
// SPI from server S belongs to the host that just finished a CHILD_SA-
// creating exchange with S. To never guess, the binder serialises: per
// server there is at most one "owner", a host whose CHILD_SA-creating
// exchange is in flight or finished but not yet bound, and other hosts'
// CHILD_SA-creating requests to that server are held (first in, first out)
// until the owner's binding completes or times out. An unknown SPI is bound
// only to a pending owner inside its window; otherwise it is refused and
// counted. Every wait is bounded. Pure logic, time passed in: tested on
// simulated timelines (tests/unit/test_ipsec_binder.cpp). See docs/ipsec.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace vpnpt {

// The clear IKE header of one message, with the parties as the gateway sees them.
struct IkeMessage {
  uint32_t host = 0, server = 0;  // network order
  bool from_host = true;          // direction: host -> server, or server -> host
  uint8_t version = 2;            // IKE major version: 1 or 2
  uint8_t exchange = 0;           // exchange type
  bool response = false;          // IKEv2 R flag (IKEv1: unused)
  uint64_t ispi = 0;              // initiator SPI (identifies the IKE SA)
  uint32_t msgid = 0;
};

inline constexpr uint8_t kIkeV2Auth = 35, kIkeV2CreateChildSa = 36, kIkeV1QuickMode = 32;

// True for exchanges that create or rekey a CHILD_SA (and so a new inbound SPI).
bool creates_child_sa(const IkeMessage& m);

struct BinderConfig {
  std::chrono::milliseconds hold{5000};       // an owner's window to see its first inbound ESP
  std::chrono::milliseconds max_wait{10000};  // longest a held request waits before it is dropped
  // After its window, an unbound owner stays a *candidate* this long (renewed
  // while ambiguous SPIs keep arriving): its server may still speak late, and
  // then no other host may be given that SPI.
  std::chrono::milliseconds stale{15000};
};

// Requests one LAN host may have held at once, toward one server and in all. A
// real IKE client has one or two requests and their retransmissions waiting;
// more is a flood, which would otherwise fill the kernel's queue (4,096, then
// fail-open) and let every host's IKE bypass the ordering binding relies on.
inline constexpr size_t kHeldPerHostServer = 16;
inline constexpr size_t kHeldPerHost = 64;

// Pass: accept now. Hold: a verdict comes later (Release). Drop: over the
// host's share of held requests (the client resends).
enum class IkeVerdict { Pass, Hold, Drop };

// A held packet to let go: accepted now, or dropped because it waited too long (the client retransmits).
struct Release {
  uint64_t ticket;
  bool accept;
};

struct BindResult {
  bool bound = false;
  uint32_t host = 0;
  uint32_t refusal = 0;  // enum vpnpt_diag_refusal when not bound
  uint32_t owner = 0;    // the host the server is reserved for, if any
  std::string why;       // plain words, for logs and `vpnpt diagnose`
};

// "ESP from 203.0.113.7 SPI 0x1a2b3c4d": how binding decisions name an SPI.
std::string esp_spi_text(uint32_t server, uint32_t spi_host_order);

struct BinderStats {
  uint64_t bound = 0, refused_no_owner = 0, refused_in_flight = 0, refused_ambiguous = 0;
  uint64_t windows_expired = 0, holds = 0, hold_expired = 0;
  uint64_t held_over_share = 0;  // requests dropped: their host already had its share held
};

class IpsecBinder {
 public:
  explicit IpsecBinder(BinderConfig c = {}) : cfg_(c) {}

  // Every IKE message on UDP 500 (CHILD_SAs negotiated there use raw ESP).
  // @ticket names the packet if it is held.
  IkeVerdict on_ike(const IkeMessage& m, uint64_t ticket, uint64_t now_ns);

  // Inbound ESP from @server with an SPI no host is bound to.
  BindResult on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now_ns);

  // Expires windows and releases held requests; call at least every 100 ms.
  std::vector<Release> tick(uint64_t now_ns);

  const BinderStats& stats() const { return stats_; }
  void set_config(const BinderConfig& c) { cfg_ = c; }
  // Could a host's exchange with @server own an unknown SPI from it now (an
  // owner, in flight or pending, or a stale candidate)?
  bool has_candidates(uint32_t server, uint64_t now_ns) const;
  // Host currently owning @server's next unknown SPI, if any (for status/diagnose).
  std::optional<uint32_t> owner_of(uint32_t server) const;
  size_t held_count() const;
  // Milliseconds until the owner of @server's window closes (0 if none).
  uint64_t owner_ms_left(uint32_t server, uint64_t now_ns) const;

 private:
  enum class Phase { InFlight, Pending };
  // An exchange of the owner: (IKE SA, message ID, exchange type).
  using ExchangeKey = std::tuple<uint64_t, uint32_t, uint8_t>;
  struct Owner {
    uint32_t host;
    Phase phase;
    uint64_t deadline;
    uint32_t unbound = 0;                  // finished CHILD_SA exchanges not yet bound
    std::map<ExchangeKey, int> exchanges;  // in flight; value: which sides spoke (IKEv1 Quick Mode)
  };
  struct Stale {
    uint32_t host;
    uint64_t until;
  };
  struct Held {
    IkeMessage msg;  // the held request: its exchange is what the released host will own
    uint64_t ticket;
    uint64_t since;
  };
  struct Server {
    std::optional<Owner> owner;
    std::vector<Stale> stale;      // former owners whose server may still speak
    std::set<uint32_t> ambiguous;  // distinct SPIs refused as ambiguous since the last binding
    std::deque<Held> held;
  };
  static ExchangeKey key_of(const IkeMessage& m) { return {m.ispi, m.msgid, m.exchange}; }
  // Counts one message of the owner's exchange; true if that exchange just finished.
  bool advance(Owner& o, const IkeMessage& m, uint64_t now);

  void release_next(uint32_t server, Server& s, uint64_t now, std::vector<Release>& out);
  uint64_t ns(std::chrono::milliseconds d) const { return static_cast<uint64_t>(d.count()) * 1000000ull; }

  // Bookkeeping of held requests by host (toward one server: counted in Server::held).
  void note_unheld(const Held& h);

  BinderConfig cfg_;
  std::map<uint32_t, Server> servers_;
  std::map<uint32_t, size_t> held_by_host_;  // in all servers' queues
  BinderStats stats_;
  std::vector<Release> pending_releases_;  // produced outside tick(), handed out by the next tick()
};

}  // namespace vpnpt
