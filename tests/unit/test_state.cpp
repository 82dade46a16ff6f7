// vpnpt state save/restore on real pinned maps: sessions of every protocol
// written into the tables, saved, restored into an empty attachment and
// saved again give the same file; every refusal names its cause in one
// line and leaves the tables as they were.
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "loader/core/clock.h"
#include "loader/state/state.h"
#include "loader/state/table_io.h"
#include "state_rig.h"

using namespace vpnpt;
using namespace vpnpt::test;
using nlohmann::json;

namespace {

const uint32_t kHost = inet_addr("10.0.0.2"), kServer = inet_addr("198.51.100.7");

// A session of each protocol, its index slots, a passthrough flow and a host's quota.
void fill(const StateRig& r, uint64_t now) {
  vpnpt_pptp_call c{};
  c.state = VPNPT_PPTP_CALL_ESTABLISHED;
  c.server = kServer;
  c.client = kHost;
  c.client_call_id = htons(1000);
  c.server_call_id = htons(77);
  c.lan_ifindex = 3;
  c.ctrl_client_port = htons(40000);
  c.ctrl_public_port = htons(40000);
  c.gre_slot = 7;
  c.created_ns = now - 5000000000ull;
  c.last_seen_ns = now - 1000;
  c.packets_out = 12;
  c.bytes_out = 1200;
  r.put_slot(VPNPT_PIN_PPTP_CALLS, 1000, c);
  r.put_slot(VPNPT_PIN_PPTP_GRE_OUT, 6,
             vpnpt_pptp_gre_slot{vpnpt_pptp_gre_tag(kHost, kServer), htons(77), htons(1000)});
  vpnpt_pptp_stream_key sk{kHost, kServer, htons(40000), htons(1723)};
  vpnpt_pptp_stream st{};
  st.t.next_seq = 1234;
  st.t.flags = VPNPT_PPTP_STREAM_SYNCED;
  st.t.hdr[2] = 0x1a;
  st.patches[1] = {100, htons(1000), htons(1001)};
  st.last_seen_ns = now - 2000;
  st.client = kHost;
  st.client_port = htons(40000);
  r.put_key(VPNPT_PIN_PPTP_STREAMS, sk, st);
  vpnpt_esp_sa sa{kServer, htonl(0x1234), kHost, 3, now - 9000000000ull, now - 10, 5, 500};
  r.put_slot(VPNPT_PIN_ESP_OUT, 4242, sa);
  vpnpt_l2tp_tunnel t{};
  t.state = VPNPT_L2TP_ESTABLISHED;
  t.server = kServer;
  t.client = kHost;
  t.client_port = t.public_port = htons(1701);
  t.client_tunnel_id = htons(9);
  t.server_tunnel_id = htons(44);
  t.out_slot = 100;
  t.created_ns = now - 3000000000ull;
  r.put_slot(VPNPT_PIN_L2TP_TUNNELS, 9, t);
  r.put_slot(VPNPT_PIN_L2TP_OUT, 99, vpnpt_l2tp_out_slot{vpnpt_l2tp_out_tag(kHost, kServer, htons(1701)), 9, 0});
  r.put_key(VPNPT_PIN_PT_FLOWS, vpnpt_pt_flow_key{kServer, htons(5000), htons(6000), 17, {}},
            vpnpt_pt_flow{now - 100, now - 50, 3, 4});
  r.put_key(VPNPT_PIN_HOST_QUOTA, kHost, vpnpt_host_quota{1, 1, 1, 0});
}

std::string saved(const StateRig& r, const std::string& wan = "wan0") {
  auto s = save_state(r.maps(), wan);
  REQUIRE(s);
  return s->text;
}

// Restoring @text into @r is refused with a one-line message containing @why; the tables are unchanged.
void refused(const StateRig& r, const std::string& text, const std::string& why, const std::string& wan = "wan0") {
  const auto before = r.tables();
  auto s = restore_state(r.maps(), wan, text);
  REQUIRE(!s);
  const std::string m = s.error().message();
  INFO(m);
  CHECK(m.find(why) != std::string::npos);
  CHECK(m.find("nothing changed") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
  CHECK(r.tables() == before);
}

std::string edited(const std::string& text, void (*edit)(json&)) {
  json d = json::parse(text);
  edit(d);
  return d.dump(1);
}

}  // namespace

TEST_CASE("state: save, restore into an empty attachment, save again gives the same file", "[state][unit]") {
  StateRig a("a"), b("b");
  fill(a, monotonic_ns());
  const std::string first = saved(a);
  REQUIRE(b.entries() == 0);
  auto done = restore_state(b.maps(), "wan0", first);
  REQUIRE(done);
  CHECK(
      *done ==
      "1 pptp_calls, 1 pptp_streams, 1 pptp_gre_out, 1 esp_out, 1 l2tp_tunnels, 1 l2tp_out, 1 pt_flows, 1 host_quota");
  CHECK(b.tables() == a.tables());  // every byte, timers included (same boot)
  CHECK(without_time(saved(b)) == without_time(first));

  // The file speaks in names: members as the ABI header names them, zero members left out.
  json d = json::parse(first);
  CHECK(d["format"] == "vpnpt-state");
  CHECK(d["public_ip"] == "192.0.2.1");
  const json& call = d["tables"]["pptp_calls"]["entries"][0];
  CHECK(call["slot"] == 1000);
  CHECK(call["value"]["client_call_id"] == 1000);  // __be16 in host order
  CHECK(call["value"]["server_call_id"] == 77);
  CHECK(!call["value"].contains("closed_ns"));
  CHECK(d["tables"]["pptp_streams"]["entries"][0]["key"]["dport"] == 1723);
  CHECK(d["tables"]["pptp_streams"]["entries"][0]["value"]["t"]["hdr"] == json::array({0, 0, 0x1a}));
}

TEST_CASE("state: restore refuses another router's file, changing nothing", "[state][unit]") {
  StateRig a("a"), b("b", inet_addr("192.0.2.99"));
  fill(a, monotonic_ns());
  const std::string text = saved(a);
  SECTION("another public IP") { refused(b, text, "public IP 192.0.2.1, this attachment has 192.0.2.99"); }
  SECTION("another WAN interface") {
    StateRig c("c");
    refused(c, text, "WAN interface wan0, not wan1", "wan1");
  }
}

TEST_CASE("state: restore refuses bad files and existing sessions, changing nothing", "[state][unit]") {
  StateRig a("a"), b("b");
  fill(a, monotonic_ns());
  const std::string text = saved(a);
  SECTION("sessions present") {
    refused(a, text, "sessions already present (pptp_calls holds 1, pptp_streams holds 1");
  }
  SECTION("truncated") { refused(b, text.substr(0, text.size() / 2), "not JSON (truncated or corrupted?)"); }
  SECTION("corrupted byte") {
    std::string bad = text;
    bad[bad.find("\"slot\"") + 1] = 'x';  // "xlot": no slot
    refused(b, bad, "entry 0: unknown field 'xlot'");
  }
  SECTION("another version") {
    refused(b, edited(text, [](json& d) { d["version"] = 2; }), "version 2; this vpnpt reads vpnpt-state version 1");
  }
  SECTION("not a state file") { refused(b, "{\"a\": 1}", "no 'format' in its header"); }
  SECTION("unknown table") {
    refused(b,
            edited(text,
                   [](json& d) {
                     d["tables"]["gtp_tunnels"] = {{"entries", json::array()}};
                   }),
            "unknown table 'gtp_tunnels'");
  }
  SECTION("unknown member") {
    refused(b, edited(text, [](json& d) { d["tables"]["esp_out"]["entries"][0]["value"]["colour"] = 1; }),
            "esp_out entry 0 value.colour: no such member");
  }
  SECTION("value out of range") {
    refused(b,
            edited(text, [](json& d) { d["tables"]["pptp_calls"]["entries"][0]["value"]["client_call_id"] = 70000; }),
            "client_call_id: 70000 does not fit 16 bits");
  }
  SECTION("slot beyond the table") {
    refused(b, edited(text, [](json& d) { d["tables"]["pptp_calls"]["entries"][0]["slot"] = 65536; }),
            "no slot below 65536");
  }
  SECTION("another slot count") {
    refused(b, edited(text, [](json& d) { d["tables"]["esp_out"]["slots"] = 1024; }), "esp_out has 1024 slots");
  }
  SECTION("a slot twice") {
    refused(b,
            edited(text,
                   [](json& d) {
                     auto& e = d["tables"]["pptp_calls"]["entries"];
                     e.push_back(e[0]);
                   }),
            "its slot comes twice");
  }
  CHECK(b.entries() == 0);
}

TEST_CASE("state: a file without a member this build has restores it as zero", "[state][unit]") {
  StateRig a("a"), b("b");
  fill(a, monotonic_ns());
  // As an older build without lan_ifindex would have written it.
  const std::string older =
      edited(saved(a), [](json& d) { d["tables"]["esp_out"]["entries"][0]["value"].erase("lan_ifindex"); });
  REQUIRE(restore_state(b.maps(), "wan0", older));
  vpnpt_esp_sa sa{};
  uint32_t slot = 4242;
  REQUIRE(bpf_map_lookup_elem(b.fd(VPNPT_PIN_ESP_OUT), &slot, &sa) == 0);
  CHECK(sa.host == kHost);
  CHECK(sa.lan_ifindex == 0);
}

TEST_CASE("state: timers of another boot keep each session's age", "[state][unit]") {
  StateRig a("a"), b("b");
  const uint64_t now = monotonic_ns();
  fill(a, now);
  json d = json::parse(saved(a));
  d["boot_id"] = "00000000-0000-0000-0000-000000000000";
  const uint64_t saved_at = d["saved_at_ns"].get<uint64_t>() + 7200000000000ull;  // saved on a boot 2 h older
  d["saved_at_ns"] = saved_at;
  REQUIRE(restore_state(b.maps(), "wan0", d.dump()));
  const uint64_t after = monotonic_ns();
  vpnpt_pptp_call c{};
  uint32_t slot = 1000;
  REQUIRE(bpf_map_lookup_elem(b.fd(VPNPT_PIN_PPTP_CALLS), &slot, &c) == 0);
  const uint64_t age = saved_at - (now - 5000000000ull);
  // Older than this boot (a machine up for less than the age): the earliest stamp, 1.
  auto aged = [age](uint64_t t) { return t > age ? t - age : uint64_t{1}; };
  CHECK(c.created_ns <= aged(after));
  CHECK(c.created_ns >= aged(now));
  CHECK(c.closed_ns == 0);  // zero stays zero
}

TEST_CASE("state: a write failing half-way removes what was written", "[state][unit]") {
  StateRig b("b");
  vpnpt_esp_sa sa{kServer, htonl(7), kHost, 1, 1, 1, 1, 1};
  RawEntry e{std::vector<uint8_t>(4),
             std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&sa), reinterpret_cast<uint8_t*>(&sa + 1))};
  e.key[0] = 5;
  std::vector<TableWrite> w = {
      {"esp_out", b.fd(VPNPT_PIN_ESP_OUT), TableKind::Slots, sizeof(sa), {e}},
      {"esp_in", b.fd(VPNPT_PIN_ESP_IN), TableKind::Slots, sizeof(sa), {e, e}},
  };
  w[1].entries[1].key = {0xff, 0xff, 0xff, 0x7f};  // beyond the array: the write fails
  auto s = write_tables(w);
  REQUIRE(!s);
  CHECK(s.error().message().find("the 2 entries written before it were removed again") != std::string::npos);
  CHECK(b.entries() == 0);
}
