// In-place upgrades on real maps and a real bpffs directory:
//   - map_migrate converts entries member by member by name between two
//     kernel maps whose BTF differs (hash, array, per-CPU array), keeps
//     array slots where they were, zeroes new members, refuses a member
//     whose own layout changed before writing anything, and its second
//     pass adds only what the new map lacks;
//   - take_over tells a first attach, this build's own data plane (adopt)
//     and another build's (upgrade) apart, and an upgrade leaves exactly
//     this build's pins with the old entries carried over.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/dataplane/build_info.h"
#include "loader/dataplane/map_migrate.h"
#include "loader/dataplane/meta.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "loader/dataplane/upgrade.h"
#include "pin_dir.h"

using namespace vpnpt;

namespace {

// A struct type for a test map: members (name, bytes, byte offset); sizes 2, 4 and 8 are
// integers, anything else a byte array.
struct Member {
  const char* name;
  uint32_t size, off;
};

// A map whose key is a u32 or a struct {u32 id;} and whose value is the struct @members, with
// the BTF the kernel keeps for it (as a BPF object's maps have).
Fd map_with(uint32_t type, const std::vector<Member>& members, uint32_t value_size, uint32_t slots,
            bool struct_key = false) {
  btf* b = btf__new_empty();
  REQUIRE(b);
  const int u8 = btf__add_int(b, "u8", 1, 0);
  const int u16 = btf__add_int(b, "u16", 2, 0);
  const int u32 = btf__add_int(b, "u32", 4, 0);
  const int u64 = btf__add_int(b, "u64", 8, 0);
  int key = u32;
  if (struct_key) {
    key = btf__add_struct(b, "test_key", 4);
    REQUIRE(btf__add_field(b, "id", u32, 0, 0) == 0);
  }
  std::vector<int> arrays;
  for (const auto& m : members)
    arrays.push_back(m.size == 2 || m.size == 4 || m.size == 8 ? 0 : btf__add_array(b, u32, u8, m.size));
  const int value = btf__add_struct(b, "test_value", value_size);
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    const int t = arrays[i] ? arrays[i] : m.size == 2 ? u16 : m.size == 4 ? u32 : u64;
    REQUIRE(btf__add_field(b, m.name, t, m.off * 8, 0) == 0);
  }
  REQUIRE(btf__load_into_kernel(b) == 0);
  LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = static_cast<uint32_t>(btf__fd(b)),
              .btf_key_type_id = static_cast<uint32_t>(key), .btf_value_type_id = static_cast<uint32_t>(value));
  Fd fd(bpf_map_create(static_cast<bpf_map_type>(type), "test_map", 4, value_size, slots, &opts));
  btf__free(b);  // the kernel keeps its copy with the map
  REQUIRE(fd.valid());
  return fd;
}

// The old layout: {u32 a; u16 b; u16 gone; u64 c;}. The new one reorders, drops `gone`, adds
// `fresh`: {u64 c; u32 fresh; u32 a; u16 b; pad}.
const std::vector<Member> kOld = {{"a", 4, 0}, {"b", 2, 4}, {"gone", 2, 6}, {"c", 8, 8}};
const std::vector<Member> kNew = {{"c", 8, 0}, {"fresh", 4, 8}, {"a", 4, 12}, {"b", 2, 16}};

struct OldValue {
  uint32_t a;
  uint16_t b, gone;
  uint64_t c;
};
struct NewValue {
  uint64_t c;
  uint32_t fresh, a;
  uint16_t b, pad[3];
};
static_assert(sizeof(OldValue) == 16 && sizeof(NewValue) == 24);

std::vector<NewValue> array_values(int fd, uint32_t slots) {
  std::vector<NewValue> out(slots);
  for (uint32_t i = 0; i < slots; ++i) REQUIRE(bpf_map_lookup_elem(fd, &i, &out[i]) == 0);
  return out;
}

}  // namespace

TEST_CASE("an array's entries are carried member by member by name, each in its own slot", "[upgrade][unit]") {
  Fd from = map_with(BPF_MAP_TYPE_ARRAY, kOld, sizeof(OldValue), 8);
  Fd to = map_with(BPF_MAP_TYPE_ARRAY, kNew, sizeof(NewValue), 16);
  for (uint32_t i : {1u, 5u}) {
    OldValue v{100 + i, static_cast<uint16_t>(7 * i), 0xdead, 0x1122334455667788ull + i};
    REQUIRE(bpf_map_update_elem(from.get(), &i, &v, BPF_ANY) == 0);
  }
  auto c = plan_conversion(from.get(), to.get(), "test");
  REQUIRE(c);
  auto n = copy_entries(*c, from.get(), to.get(), CopyMode::All);
  REQUIRE(n);
  CHECK(*n == 2);  // the empty slots are not written
  auto got = array_values(to.get(), 16);
  for (uint32_t i = 0; i < 16; ++i) {
    INFO("slot " << i);
    if (i == 1 || i == 5) {
      CHECK(got[i].a == 100 + i);
      CHECK(got[i].b == 7 * i);
      CHECK(got[i].c == 0x1122334455667788ull + i);
      CHECK(got[i].fresh == 0);  // a new member starts at zero
    } else {
      CHECK(got[i].a == 0);
      CHECK(got[i].c == 0);
    }
  }
}

TEST_CASE("the pass after the swap adds what the new map lacks and keeps what the new programs wrote",
          "[upgrade][unit]") {
  Fd from = map_with(BPF_MAP_TYPE_ARRAY, kOld, sizeof(OldValue), 4);
  Fd to = map_with(BPF_MAP_TYPE_ARRAY, kNew, sizeof(NewValue), 4);
  uint32_t k0 = 0, k2 = 2;
  OldValue old0{1, 1, 0, 1}, old2{2, 2, 0, 2};
  NewValue new0{99, 0, 99, 99, {}};  // the new programs changed slot 0 after the swap
  REQUIRE(bpf_map_update_elem(from.get(), &k0, &old0, BPF_ANY) == 0);
  REQUIRE(bpf_map_update_elem(from.get(), &k2, &old2, BPF_ANY) == 0);  // added by the old programs meanwhile
  REQUIRE(bpf_map_update_elem(to.get(), &k0, &new0, BPF_ANY) == 0);
  auto c = plan_conversion(from.get(), to.get(), "test");
  REQUIRE(c);
  auto n = copy_entries(*c, from.get(), to.get(), CopyMode::OnlyMissing);
  REQUIRE(n);
  CHECK(*n == 1);
  auto got = array_values(to.get(), 4);
  CHECK(got[0].a == 99);
  CHECK(got[2].a == 2);
  CHECK(got[2].c == 2);
}

TEST_CASE("hash and per-CPU maps are carried too", "[upgrade][unit]") {
  SECTION("hash: every key, values converted") {
    Fd from = map_with(BPF_MAP_TYPE_HASH, kOld, sizeof(OldValue), 64, true);
    Fd to = map_with(BPF_MAP_TYPE_HASH, kNew, sizeof(NewValue), 64, true);
    for (uint32_t k = 10; k < 30; ++k) {
      OldValue v{k, 1, 2, k * 1000ull};
      REQUIRE(bpf_map_update_elem(from.get(), &k, &v, BPF_ANY) == 0);
    }
    auto c = plan_conversion(from.get(), to.get(), "test");
    REQUIRE(c);
    auto n = copy_entries(*c, from.get(), to.get(), CopyMode::All);
    REQUIRE(n);
    CHECK(*n == 20);
    for (uint32_t k = 10; k < 30; ++k) {
      NewValue v{};
      REQUIRE(bpf_map_lookup_elem(to.get(), &k, &v) == 0);
      CHECK(v.a == k);
      CHECK(v.c == k * 1000ull);
    }
  }
  SECTION("per-CPU array: every CPU's value") {
    Fd from = map_with(BPF_MAP_TYPE_PERCPU_ARRAY, kOld, sizeof(OldValue), 2);
    Fd to = map_with(BPF_MAP_TYPE_PERCPU_ARRAY, kNew, sizeof(NewValue), 2);
    const int ncpu = libbpf_num_possible_cpus();
    REQUIRE(ncpu > 0);
    std::vector<OldValue> in(ncpu);
    for (int i = 0; i < ncpu; ++i) in[i] = {static_cast<uint32_t>(i + 1), 0, 0, static_cast<uint64_t>(i) << 40};
    uint32_t k = 1;
    REQUIRE(bpf_map_update_elem(from.get(), &k, in.data(), BPF_ANY) == 0);
    auto c = plan_conversion(from.get(), to.get(), "test");
    REQUIRE(c);
    REQUIRE(copy_entries(*c, from.get(), to.get(), CopyMode::All));
    std::vector<NewValue> out(ncpu);
    REQUIRE(bpf_map_lookup_elem(to.get(), &k, out.data()) == 0);
    for (int i = 0; i < ncpu; ++i) {
      CHECK(out[i].a == static_cast<uint32_t>(i + 1));
      CHECK(out[i].c == static_cast<uint64_t>(i) << 40);
    }
  }
}

TEST_CASE("a member whose own layout changed blocks the upgrade before anything is written", "[upgrade][unit]") {
  Fd from = map_with(BPF_MAP_TYPE_ARRAY, kOld, sizeof(OldValue), 4);
  // `b` grew from 2 to 4 bytes: no safe default, a converter must be written.
  Fd to = map_with(BPF_MAP_TYPE_ARRAY, {{"a", 4, 0}, {"b", 4, 4}, {"c", 8, 8}}, 16, 4);
  auto c = plan_conversion(from.get(), to.get(), "vpnpt_test_v2");
  REQUIRE(!c);
  const std::string m = c.error().message();
  INFO(m);
  CHECK(m.find("vpnpt_test_v2") != std::string::npos);
  CHECK(m.find("member `value.b` changed") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
}

TEST_CASE("a used slot that a smaller new array cannot hold stops the copy", "[upgrade][unit]") {
  Fd from = map_with(BPF_MAP_TYPE_ARRAY, kOld, sizeof(OldValue), 8);
  Fd to = map_with(BPF_MAP_TYPE_ARRAY, kNew, sizeof(NewValue), 4);
  uint32_t k = 6;
  OldValue v{1, 1, 1, 1};
  REQUIRE(bpf_map_update_elem(from.get(), &k, &v, BPF_ANY) == 0);
  auto c = plan_conversion(from.get(), to.get(), "test");
  REQUIRE(c);
  auto n = copy_entries(*c, from.get(), to.get(), CopyMode::All);
  REQUIRE(!n);
  CHECK(n.error().message().find("slot 6 of test is in use") != std::string::npos);
}

namespace {

// An attachment's pins as a first attach leaves them (no program attached: take_over swaps none
// and carries the maps).
struct Attachment : test::TestPinDir {
  Attachment() : TestPinDir("upgrade") {}
  std::set<std::string> pins() const {
    auto v = pin_names(path);
    return {v.begin(), v.end()};
  }
};

std::set<std::string> this_builds_pins() {
  std::set<std::string> out;
  for (const auto& p : kPins)
    if (p.owner != VPNPT_PIN_OWNER_TRACE) out.insert(p.name);
  return out;
}

}  // namespace

TEST_CASE("attach adopts only its own build's data plane and upgrades any other", "[upgrade][unit]") {
  Attachment a;
  SECTION("no build record (a build older than the record): upgraded, then recorded") {
    auto r = take_over(a.path, LoadConfig{});
    REQUIRE(r);
    CHECK(r->kind == Takeover::Upgrade);
    CHECK(r->from_version == "unrecorded");
    CHECK(r->swapped == 0);
    auto m = read_meta(a.path);
    REQUIRE(m);
    REQUIRE(*m);
    CHECK((*m)->build_hash == build_hash());
    CHECK(std::string((*m)->upgraded_from) == "unrecorded");
    Fd rec(bpf_obj_get(a.pin(VPNPT_MAP_META).c_str()));
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    REQUIRE(bpf_obj_get_info_by_fd(rec.get(), &info, &len) == 0);
    CHECK(info.btf_id != 0);  // bpftool shows its members, as for every vpnpt pin
    CHECK(a.pins() == this_builds_pins());
    CHECK(!path_exists(a.path + "/" + kUpgradeStaging));
    // ...and the next attach of the same build adopts it.
    auto again = take_over(a.path, LoadConfig{});
    REQUIRE(again);
    CHECK(again->kind == Takeover::Adopt);
  }
  SECTION("this build's record: adopted, nothing changed") {
    REQUIRE(write_meta(a.path, ""));
    Fd before(bpf_obj_get(a.pin(VPNPT_MAP_PPTP_CALLS).c_str()));
    bpf_map_info info_before{};
    uint32_t len = sizeof(info_before);
    REQUIRE(bpf_obj_get_info_by_fd(before.get(), &info_before, &len) == 0);
    auto r = take_over(a.path, LoadConfig{});
    REQUIRE(r);
    CHECK(r->kind == Takeover::Adopt);
    Fd after(bpf_obj_get(a.pin(VPNPT_MAP_PPTP_CALLS).c_str()));
    bpf_map_info info_after{};
    REQUIRE(bpf_obj_get_info_by_fd(after.get(), &info_after, &len) == 0);
    CHECK(info_after.id == info_before.id);
  }
  SECTION("nothing pinned: a first attach") {
    auto r = take_over("/sys/fs/bpf/vpnpt-test-upgrade-none", LoadConfig{});
    REQUIRE(r);
    CHECK(r->kind == Takeover::Fresh);
  }
}

TEST_CASE("an upgrade carries a renamed table's entries into this build's table and removes the old pin",
          "[upgrade][unit]") {
  Attachment a;
  REQUIRE(write_meta(a.path, ""));
  // An older build's name for the PPTP call table (same layout here), holding two calls.
  const std::string old_name = "vpnpt_pptp_calls_v1";
  REQUIRE(::rename(a.pin(VPNPT_MAP_PPTP_CALLS).c_str(), a.pin(old_name.c_str()).c_str()) == 0);
  Fd old_calls(bpf_obj_get(a.pin(old_name.c_str()).c_str()));
  REQUIRE(old_calls.valid());
  for (uint32_t slot : {3u, 77u}) {
    vpnpt_pptp_call c{};
    c.state = VPNPT_SESSION_ESTABLISHED;
    c.client = 0x0b01a8c0 + slot;
    c.packets_out = slot * 10;
    REQUIRE(bpf_map_update_elem(old_calls.get(), &slot, &c, BPF_ANY) == 0);
  }
  // And a pin of a table this build no longer has.
  a.pin_other("vpnpt_retired_v3");

  auto r = take_over(a.path, LoadConfig{});
  REQUIRE(r);
  CHECK(r->kind == Takeover::Upgrade);
  CHECK(r->converted == 2);
  CHECK(a.pins() == this_builds_pins());  // the old names are gone, nothing else was added
  Fd calls(bpf_obj_get(a.pin(VPNPT_MAP_PPTP_CALLS).c_str()));
  REQUIRE(calls.valid());
  for (uint32_t slot : {3u, 77u}) {
    vpnpt_pptp_call c{};
    REQUIRE(bpf_map_lookup_elem(calls.get(), &slot, &c) == 0);
    CHECK(c.state == VPNPT_SESSION_ESTABLISHED);
    CHECK(c.client == 0x0b01a8c0 + slot);
    CHECK(c.packets_out == slot * 10);
  }
  CHECK(check_pins_are_ours(a.path));
}

TEST_CASE("a blocked upgrade changes nothing", "[upgrade][unit]") {
  Attachment a;
  // The running build's quote table: same name family, a value whose member `owner` is 8 bytes.
  REQUIRE(::unlink(a.pin(VPNPT_MAP_PPTP_QUOTE).c_str()) == 0);
  Fd other = map_with(BPF_MAP_TYPE_ARRAY, {{"tag", 4, 0}, {"owner", 8, 8}}, 16, 4);
  REQUIRE(bpf_obj_pin(other.get(), a.pin("vpnpt_pptp_quote_v0").c_str()) == 0);
  const auto before = a.pins();
  auto r = take_over(a.path, LoadConfig{});
  REQUIRE(!r);
  INFO(r.error().message());
  CHECK(r.error().message().find("vpnpt_pptp_quote_v1") != std::string::npos);
  CHECK(a.pins() == before);
  CHECK(!path_exists(a.path + "/" + kUpgradeStaging));
}

TEST_CASE("an upgrade killed before its swap is discarded by the next attach", "[upgrade][unit]") {
  Attachment a;
  REQUIRE(write_meta(a.path, ""));
  const std::string staging = a.path + "/" + kUpgradeStaging;
  REQUIRE(make_dirs(staging));
  Fd m(bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr));
  REQUIRE(bpf_obj_pin(m.get(), (staging + "/" + VPNPT_MAP_CONFIG).c_str()) == 0);
  auto r = take_over(a.path, LoadConfig{});
  REQUIRE(r);
  CHECK(r->kind == Takeover::Adopt);
  CHECK(!path_exists(staging));
}
