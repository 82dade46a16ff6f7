#include "loader/dataplane/nft_ike_table.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <memory>

extern "C" {
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
}

#include "loader/dataplane/nft_netlink.h"
#include "loader/dataplane/nft_objects.h"
#include "loader/dataplane/nft_rule_text.h"

namespace vpnpt {
namespace {

constexpr const char* kChain = "ike";
// Before the filter chains of a typical ruleset (priority 0), so IKE is
// queued even when a user's forward chain accepts it first: an accept ends
// only its own chain. A user's drop at a lower priority still wins, and
// the packet goes back through the later chains after our verdict.
constexpr int32_t kPriority = -10;
constexpr uint16_t kIkePort = 500;

ChainPtr ike_chain(const std::string& table) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, kChain);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
  nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, kPriority);
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  return c;
}

// Expressions load into register 1 and compare it: the layout nft itself uses.
void add_load_meta(nftnl_rule* r, uint32_t key) {
  nftnl_expr* e = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, e);
}

void add_load_transport(nftnl_rule* r, uint32_t offset, uint32_t len) {
  nftnl_expr* e = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, e);
}

void add_cmp_eq(nftnl_rule* r, const void* data, uint32_t len) {
  nftnl_expr* e = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  nftnl_rule_add_expr(r, e);
}

// "queue num N bypass": with no reader on the queue the packet is accepted,
// so IKE never waits for the daemon.
void add_queue(nftnl_rule* r, uint16_t queue, NftQueueForm form) {
  nftnl_expr* e;
  if (form == NftQueueForm::Native) {
    e = nftnl_expr_alloc("queue");
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, queue);
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
  } else {
    // libnftnl takes the info buffer over (frees it with the expression).
    auto* info = static_cast<xt_NFQ_info_v3*>(calloc(1, XT_ALIGN(sizeof(xt_NFQ_info_v3))));
    info->queuenum = queue;
    info->queues_total = 1;
    info->flags = NFQ_FLAG_BYPASS;
    e = nftnl_expr_alloc("target");
    nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
    nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
    nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, XT_ALIGN(sizeof(xt_NFQ_info_v3)));
  }
  nftnl_rule_add_expr(r, e);
}

// @outbound: "oifname WAN udp dport 500", else "iifname WAN udp sport 500".
RulePtr ike_rule(const std::string& table, const std::string& wan, bool outbound, uint16_t queue, NftQueueForm form) {
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, kChain);
  char ifname[IFNAMSIZ] = {};
  wan.copy(ifname, IFNAMSIZ - 1);
  add_load_meta(r.get(), outbound ? NFT_META_OIFNAME : NFT_META_IIFNAME);
  add_cmp_eq(r.get(), ifname, IFNAMSIZ);
  uint8_t udp = IPPROTO_UDP;
  add_load_meta(r.get(), NFT_META_L4PROTO);
  add_cmp_eq(r.get(), &udp, 1);
  uint16_t port = htons(kIkePort);
  add_load_transport(r.get(), outbound ? 2 : 0, 2);  // udp dest port at 2, source at 0
  add_cmp_eq(r.get(), &port, 2);
  add_queue(r.get(), queue, form);
  return r;
}

// The batch: "add table" (a no-op when it exists), "delete table" (whatever
// was in it), then the table afresh. Applied whole or not at all.
int install_batch(NftNetlink& nl, const std::string& wan, uint16_t queue, NftQueueForm form) {
  std::string name = ike_table_name(wan);
  TablePtr t = table_named(name);
  ChainPtr c = ike_chain(name);
  RulePtr out = ike_rule(name, wan, true, queue, form), in = ike_rule(name, wan, false, queue, form);
  return nl.transact({table_msg(t.get(), NFT_MSG_NEWTABLE, NLM_F_CREATE), table_msg(t.get(), NFT_MSG_DELTABLE, 0),
                      table_msg(t.get(), NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL),
                      chain_msg(c.get(), NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL),
                      rule_msg(out.get(), NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND),
                      rule_msg(in.get(), NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND)});
}

std::string hint_for(int err) {
  switch (err) {
    case EPERM: return "run as root or with CAP_NET_ADMIN";
    case EOPNOTSUPP:
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT: return "kernel without nf_tables? load module nf_tables or enable CONFIG_NF_TABLES";
    case ENOENT:
      return "kernel without a queue for nftables: load module nft_queue, or xt_NFQUEUE with nft_compat "
             "(CONFIG_NFT_QUEUE, or CONFIG_NETFILTER_XT_TARGET_NFQUEUE with CONFIG_NFT_COMPAT)";
    case ETIMEDOUT: return "the kernel did not answer within 2 s";
    default: return "see the kernel log";
  }
}

Error table_error(const std::string& what, const std::string& wan, int err) {
  return make_error("cannot " + what + " nftables table " + ike_table_name(wan) + ": " + std::strerror(err) + " (" +
                    hint_for(err) + ")");
}

}  // namespace

const char* queue_form_name(NftQueueForm form) {
  return form == NftQueueForm::Native ? "nft queue" : "xt NFQUEUE through nft_compat";
}

std::string ike_table_name(const std::string& wan) { return "vpnpt_" + wan; }

Result<NftQueueForm> install_ike_table(const std::string& wan, uint16_t queue) {
  auto nl = NftNetlink::open();
  if (!nl) return table_error("create", wan, nl.error().err);
  int err = install_batch(*nl, wan, queue, NftQueueForm::Native);
  if (!err) return NftQueueForm::Native;
  // No native queue expression in this kernel (CONFIG_NFT_QUEUE unset): the
  // batch was undone as a whole, so the compat form starts from scratch.
  if (err != ENOENT && err != EOPNOTSUPP) return table_error("create", wan, err);
  err = install_batch(*nl, wan, queue, NftQueueForm::Compat);
  if (err) return table_error("create", wan, err);
  return NftQueueForm::Compat;
}

Status remove_ike_table(const std::string& wan) {
  auto nl = NftNetlink::open();
  if (!nl) return table_error("delete", wan, nl.error().err);
  TablePtr t = table_named(ike_table_name(wan));
  int err = nl->transact({table_msg(t.get(), NFT_MSG_DELTABLE, 0)});
  if (err && err != ENOENT) return table_error("delete", wan, err);
  return {};
}

Result<std::optional<std::vector<std::string>>> read_ike_table(const std::string& wan) {
  std::string name = ike_table_name(wan);
  auto nl = NftNetlink::open();
  if (!nl) return table_error("read", wan, nl.error().err);
  int err = nl->request(get_msg(NFT_MSG_GETTABLE, 0, name), nullptr);
  if (err == ENOENT) return std::optional<std::vector<std::string>>();
  if (err) return table_error("read", wan, err);
  std::vector<std::string> lines;
  err = nl->request(get_msg(NFT_MSG_GETCHAIN, 0, name, kChain), [&lines](const nlmsghdr* nlh) {
    ChainPtr c(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(nlh, c.get()) == 0) lines.push_back(describe_chain(c.get()));
  });
  if (err == ENOENT)
    lines.push_back(std::string("no chain ") + kChain);
  else if (err)
    return table_error("read", wan, err);
  err = nl->request(get_msg(NFT_MSG_GETRULE, NLM_F_DUMP, name), [&lines, &name](const nlmsghdr* nlh) {
    RulePtr r(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) == 0 && name == nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))
      lines.push_back(describe_rule(r.get()));
  });
  if (err) return table_error("read", wan, err);
  return std::optional<std::vector<std::string>>(std::move(lines));
}

std::vector<std::string> expected_ike_table(const std::string& wan, uint16_t queue, NftQueueForm form) {
  std::string q = queue_words(queue, 1, true) + (form == NftQueueForm::Compat ? " xt" : "");
  return {
      std::string("chain ") + kChain + " filter hook forward priority " + std::to_string(kPriority) + " policy accept",
      "oifname " + wan + " l4proto udp th dport " + std::to_string(kIkePort) + " " + q,
      "iifname " + wan + " l4proto udp th sport " + std::to_string(kIkePort) + " " + q};
}

}  // namespace vpnpt
