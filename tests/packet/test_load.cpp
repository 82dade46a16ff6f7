// Loads every program in every load-time configuration: an innocent-looking
// refactor that the verifier rejects fails here, not on a router.
#include <catch2/catch.hpp>

#include <bpf/bpf.h>

#include "loader/dataplane/programs.h"

using namespace vpnpt;

TEST_CASE("every program loads in every load-time configuration", "[bpf][load]") {
  auto configs = all_load_configs();
  REQUIRE(configs.size() == (VPNPT_VLAN_DEPTH_MAX + 1) * 2 * 2);
  for (const auto& cfg : configs) {
    DYNAMIC_SECTION("vlan_depth=" << cfg.vlan_depth << " events=" << cfg.events << " fib_cache_ns=" << cfg.fib_cache_ns
                                  << " wan_no_l2=" << cfg.wan_no_l2) {
      auto p = load_unpinned(cfg);
      INFO((p ? std::string() : p.error().message()));
      REQUIRE(p.ok());
      for (Hook h : {Hook::Xdp, Hook::Tc}) {
        CHECK(p->lan_fd(h) >= 0);
        CHECK(p->wan_fd(h) >= 0);
      }
      CHECK(p->tc_wan->rodata->cfg_no_l2 == (cfg.wan_no_l2 ? 1 : 0));
      CHECK(p->tc_lan->rodata->cfg_no_l2 == 0);
      CHECK(p->lan->rodata->cfg_vlan_depth == cfg.vlan_depth);
      CHECK(p->lan->rodata->cfg_fib_cache_ns == cfg.fib_cache_ns);
      // The four objects share one set of maps (same kernel map id).
      auto id_of = [](int fd) {
        bpf_map_info info{};
        uint32_t len = sizeof(info);
        REQUIRE(bpf_obj_get_info_by_fd(fd, &info, &len) == 0);
        return info.id;
      };
      CHECK(id_of(bpf_map__fd(p->wan->maps.vpnpt_counters_v1)) == id_of(p->counters_fd()));
      CHECK(id_of(bpf_map__fd(p->wan->maps.vpnpt_config_v1)) == id_of(p->config_fd()));
      CHECK(id_of(bpf_map__fd(p->tc_lan->maps.vpnpt_counters_v1)) == id_of(p->counters_fd()));
      CHECK(id_of(bpf_map__fd(p->tc_wan->maps.vpnpt_pptp_calls_v2)) ==
            id_of(bpf_map__fd(p->lan->maps.vpnpt_pptp_calls_v2)));
    }
  }
}

TEST_CASE("every map carries BTF so bpftool prints named fields", "[bpf][load]") {
  auto p = load_unpinned(LoadConfig{});
  REQUIRE(p.ok());
  bpf_map* m;
  bpf_object__for_each_map(m, p->lan->obj) {
    std::string name = bpf_map__name(m);
    if (name.find(".rodata") != std::string::npos) continue;
    INFO(name);
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    REQUIRE(bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len) == 0);
    if (info.type == BPF_MAP_TYPE_RINGBUF) continue;  // no key/value: bpftool cannot dump a ring anyway
    CHECK(info.btf_id != 0);
    CHECK(info.btf_value_type_id != 0);
  }
}
