// The IKE queue's nftables table (loader/dataplane/nft_ike_table.h) against
// the kernel, in a private network namespace: installed in one batch, read
// back rule by rule, idempotent, replaced whole, removed; and the
// notifications that say it changed.
#include <catch2/catch.hpp>

#include <string>

#include "conntrack_util.h"
#include "loader/dataplane/nft_ike_table.h"
#include "loader/dataplane/nft_table_watch.h"

using namespace vpnpt;

namespace {

std::vector<std::string> table_of(const std::string& wan) {
  auto t = read_ike_table(wan);
  INFO((t ? "" : t.error().message()));
  REQUIRE(t);
  REQUIRE(t->has_value());
  return **t;
}

bool table_gone(const std::string& wan) {
  auto t = read_ike_table(wan);
  REQUIRE(t);
  return !t->has_value();
}

}  // namespace

TEST_CASE("IKE queue table: installed, read back, reinstalled, removed", "[nft][netns]") {
  test::PrivateNetns ns;
  CHECK(ike_table_name("wan0") == "vpnpt_wan0");
  CHECK(table_gone("wan0"));

  auto form = install_ike_table("wan0", 30007);
  INFO((form ? "" : form.error().message()));
  REQUIRE(form);
  INFO(queue_form_name(*form));
  // The native queue where the kernel has it; the xt target through nft_compat where it does not.
  std::string q = std::string("queue 30007 bypass") + (*form == NftQueueForm::Compat ? " xt" : "");
  auto lines = table_of("wan0");
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "chain ike filter hook forward priority -10 policy accept");
  CHECK(lines[1] == "oifname wan0 l4proto udp th dport 500 " + q);
  CHECK(lines[2] == "iifname wan0 l4proto udp th sport 500 " + q);
  CHECK(lines == expected_ike_table("wan0", 30007, *form));

  // Twice: still one chain and two rules, not four.
  auto again = install_ike_table("wan0", 30007);
  REQUIRE(again);
  CHECK(*again == *form);
  CHECK(table_of("wan0") == expected_ike_table("wan0", 30007, *form));

  // Another queue number replaces the rules (the whole table is recreated).
  REQUIRE(install_ike_table("wan0", 30008));
  CHECK(table_of("wan0") == expected_ike_table("wan0", 30008, *form));

  // Each WAN has its own table; removing one leaves the other.
  REQUIRE(install_ike_table("wan1", 30009));
  CHECK(table_of("wan1") == expected_ike_table("wan1", 30009, *form));
  REQUIRE(remove_ike_table("wan0"));
  CHECK(table_gone("wan0"));
  CHECK(table_of("wan1") == expected_ike_table("wan1", 30009, *form));
  CHECK(remove_ike_table("wan0"));  // already gone: not an error
  REQUIRE(remove_ike_table("wan1"));
  CHECK(table_gone("wan1"));
}

TEST_CASE("IKE queue table: nf_tables notifications about it, and only it, are heard", "[nft][netns]") {
  test::PrivateNetns ns;
  auto watch = NftTableWatch::open(ike_table_name("wan0"));
  INFO((watch ? "" : watch.error().message()));
  REQUIRE(watch);
  CHECK_FALSE(watch->touched());  // nothing yet
  REQUIRE(install_ike_table("wan0", 30007));
  CHECK(watch->touched());
  CHECK_FALSE(watch->touched());  // drained
  REQUIRE(install_ike_table("wan1", 30009));
  CHECK_FALSE(watch->touched());  // another WAN's table
  REQUIRE(remove_ike_table("wan0"));
  CHECK(watch->touched());
  REQUIRE(remove_ike_table("wan1"));
  CHECK_FALSE(watch->touched());
}
