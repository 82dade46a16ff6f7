// `vpnpt diagnose`: every ring entry becomes a finding with structured
// fields, and the text line is the same finding.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "loader/cli/diagnosis.h"
#include "loader/core/names.h"

using namespace vpnpt;
using nlohmann::json;

namespace {

constexpr uint64_t kSec = 1000000000ull;
// 2026-12-05T10:00:00Z
constexpr uint64_t kNow = 1796464800ull * kSec;

uint32_t addr(const char* s) {
  in_addr a{};
  REQUIRE(inet_pton(AF_INET, s, &a) == 1);
  return a.s_addr;
}

vpnpt_diag_entry entry(uint64_t seq, uint32_t kind, uint32_t reason, const char* host, const char* server,
                       uint32_t id, uint64_t secs_ago) {
  vpnpt_diag_entry e{};
  e.seq = seq;
  e.wall_ns = kNow - secs_ago * kSec;
  e.kind = kind;
  e.reason = reason;
  e.host = host ? addr(host) : 0;
  e.server = addr(server);
  e.id = id;
  return e;
}

}  // namespace

TEST_CASE("diagnose --json: an unbound SPI", "[diagnose]") {
  auto e = entry(7, VPNPT_DIAG_ESP_REFUSED, VPNPT_REFUSE_NO_OWNER, nullptr, "203.0.113.9", 0x0badc0de, 12);
  json j = finding_json(explain(e, {e}, kNow), kNow);
  CHECK(j["time"] == "2026-12-05T09:59:48.000Z");
  CHECK(j["age_s"] == 12);
  CHECK(j["standing"] == false);
  CHECK(j["kind"] == "esp_refused");
  CHECK(j["protocol"] == "ipsec");
  CHECK(j["host"] == nullptr);
  CHECK(j["server"] == "203.0.113.9");
  CHECK(j["ids"] == json{{"spi", "0x0badc0de"}});
  CHECK(j["reason"] == "no_owner");
  CHECK(j["advice"] == "restart that VPN connection");
  CHECK(j["text"] ==
        "12 s ago: ESP from 203.0.113.9 SPI 0x0badc0de not bound: no LAN host finished a CHILD_SA exchange with that "
        "server recently (a tunnel set up before vpnpt ran, or while its daemon was down?); restart that VPN "
        "connection");
}

TEST_CASE("diagnose: GRE for a cleared call names that call's host", "[diagnose]") {
  auto closed = entry(1, VPNPT_DIAG_PPTP_CLOSED, VPNPT_CLOSE_CDN, "192.168.1.20", "203.0.113.5", 4, 40);
  auto gre = entry(2, VPNPT_DIAG_PACKET, VPNPT_REASON_GRE_NO_CALL, nullptr, "203.0.113.5", 4, 2);
  std::vector<vpnpt_diag_entry> history{closed, gre};
  CHECK(concerns(gre, addr("192.168.1.20"), history));
  CHECK_FALSE(concerns(gre, addr("192.168.1.21"), history));
  json j = finding_json(explain(gre, history, kNow), kNow);
  CHECK(j["kind"] == "untranslated");
  CHECK(j["protocol"] == "pptp");
  CHECK(j["reason"] == "gre_no_call");
  CHECK(j["host"] == "192.168.1.20");
  CHECK(j["ids"] == json{{"call_id", 4}});
  CHECK(j["advice"] == nullptr);  // the server still sends for a call it ended: nothing to do
  CHECK(j["message"] == "GRE from 203.0.113.5 with unknown Call ID 4 (call of 192.168.1.20 cleared 40 s ago: the "
                        "server disconnected it)");
  json c = finding_json(explain(closed, history, kNow), kNow);
  CHECK(c["kind"] == "pptp_call_ended");
  CHECK(c["reason"] == "server_disconnected");
  CHECK(c["ids"] == json{{"server_call_id", 4}});
}

TEST_CASE("diagnose: sessions set up, with the ids each side sees", "[diagnose]") {
  auto call = entry(1, VPNPT_DIAG_PPTP_CALL, 0, "192.168.1.20", "203.0.113.5", 1000u << 16 | 40806, 5);
  Finding f = explain(call, {call}, kNow);
  CHECK(f.kind == "pptp_call_up");
  CHECK(f.ids == json{{"call_id", 1000}, {"server_call_id", 40806}});
  CHECK(f.what == "PPTP call set up: 192.168.1.20 Call ID 1000 -> 203.0.113.5, seen by the server as Call ID 40806");
  auto tunnel = entry(2, VPNPT_DIAG_L2TP_TUNNEL, 0, "192.168.1.21", "203.0.113.5", 7u << 16 | 9, 4);
  f = explain(tunnel, {tunnel}, kNow);
  CHECK(f.kind == "l2tp_tunnel_up");
  CHECK(f.ids == json{{"tunnel_id", 7}, {"server_tunnel_id", 9}});
  CHECK(f.what == "L2TP tunnel set up: 192.168.1.21 Tunnel ID 7 -> 203.0.113.5, seen by the server as Tunnel ID 9 "
                  "(rewritten: another client uses it)");
  tunnel.aux = VPNPT_L2TP_F_PORT_NAT;
  f = explain(tunnel, {tunnel}, kNow);
  CHECK(f.ids == json{{"per_port_nat", true}});
  CHECK(f.what.find("per-port NAT") != std::string::npos);
}

TEST_CASE("diagnose: a switched-off protocol says how to switch it on", "[diagnose]") {
  auto e = entry(3, VPNPT_DIAG_PACKET, VPNPT_REASON_IPSEC_OFF, "192.168.1.30", "198.51.100.7", 0, 1);
  Finding f = explain(e, {e}, kNow);
  CHECK(f.protocol == "ipsec");
  CHECK(f.advice == "vpnpt set ipsec on");
  CHECK(finding_text(f, kNow) ==
        "1 s ago: IPsec between 192.168.1.30 and 198.51.100.7: IPsec passthrough is switched off; vpnpt set ipsec on");
}

TEST_CASE("diagnose: every kind and every reason has a stable name and words", "[diagnose]") {
  for (uint32_t kind = VPNPT_DIAG_PACKET; kind <= VPNPT_DIAG_L2TP_REFUSED; ++kind) {
    auto e = entry(1, kind, 1, "192.168.1.2", "203.0.113.1", 0x00050006, 3);
    Finding f = explain(e, {e}, kNow);
    INFO("kind " << kind);
    CHECK(f.kind != "unknown");
    CHECK(!f.what.empty());
    if (kind != VPNPT_DIAG_PACKET) CHECK(!f.protocol.empty());  // a packet's protocol is its reason's (below)
  }
  for (uint32_t r = 1; r < VPNPT_REASON_MAX; ++r) {
    auto e = entry(1, VPNPT_DIAG_PACKET, r, "192.168.1.2", "203.0.113.1", 9, 3);
    Finding f = explain(e, {e}, kNow);
    INFO("reason " << reason_name(r));
    CHECK(f.reason == std::string(reason_name(r)));
    CHECK(!f.what.empty());
    std::string n(reason_name(r));
    if (n.rfind("esp_", 0) == 0 || n.rfind("natt_", 0) == 0) CHECK(f.protocol == "ipsec");
    if (n.rfind("l2tp_", 0) == 0) CHECK(f.protocol == "l2tp");
    if (n.rfind("gre_", 0) == 0 || n.rfind("pptp_", 0) == 0) CHECK(f.protocol == "pptp");
  }
  auto odd = entry(1, 99, 0, nullptr, "203.0.113.1", 0, 0);
  CHECK(explain(odd, {odd}, kNow).kind == "unknown");
}

TEST_CASE("diagnose --json: a standing condition has no time", "[diagnose]") {
  Finding f;
  f.kind = "switched_off";
  f.protocol = "pptp";
  f.what = "PPTP passthrough is switched off";
  f.advice = "vpnpt set pptp on";
  json j = finding_json(f, kNow);
  CHECK(j["time"] == nullptr);
  CHECK(j["age_s"] == nullptr);
  CHECK(j["standing"] == true);
  CHECK(j["text"] == "now: PPTP passthrough is switched off; vpnpt set pptp on");
}
