#include "loader/dataplane/nft_ike_table.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
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

namespace vpnpt {
namespace {

constexpr const char* kChain = "ike";
// Before the filter chains of a typical ruleset (priority 0), so IKE is
// queued even when a user's forward chain accepts it first: an accept ends
// only its own chain. A user's drop at a lower priority still wins, and
// the packet goes back through the later chains after our verdict.
constexpr int32_t kPriority = -10;
constexpr uint16_t kIkePort = 500;

struct TableFree {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct ChainFree {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct RuleFree {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
using TablePtr = std::unique_ptr<nftnl_table, TableFree>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainFree>;
using RulePtr = std::unique_ptr<nftnl_rule, RuleFree>;

TablePtr table_named(const std::string& name) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
  return t;
}

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

// Builders of the batch's messages (family ip).
NftNetlink::Build table_msg(const nftnl_table* t, uint16_t type, uint16_t flags) {
  return [t, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_table_nlmsg_build_payload(nlh, t);
    return nlh;
  };
}
NftNetlink::Build chain_msg(const nftnl_chain* c, uint16_t type, uint16_t flags) {
  return [c, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    return nlh;
  };
}
NftNetlink::Build rule_msg(nftnl_rule* r, uint16_t type, uint16_t flags) {
  return [r, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    return nlh;
  };
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

// Register 1's content as the comparison that follows reads it.
std::string cmp_value(const nftnl_expr* e, const std::string& loaded) {
  uint32_t len = 0;
  const auto* d = static_cast<const uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
  std::string op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ ? "" : "!= ";
  if (!d) return loaded + " ?";
  if (loaded == "l4proto" && len == 1) return loaded + " " + op + (d[0] == IPPROTO_UDP ? "udp" : std::to_string(d[0]));
  if ((loaded == "th sport" || loaded == "th dport") && len == 2)
    return loaded + " " + op + std::to_string(d[0] << 8 | d[1]);
  if (loaded == "iifname" || loaded == "oifname")
    return loaded + " " + op +
           std::string(reinterpret_cast<const char*>(d), strnlen(reinterpret_cast<const char*>(d), len));
  return loaded + " " + op + "(" + std::to_string(len) + " bytes)";
}

std::string meta_key_name(uint32_t key) {
  switch (key) {
    case NFT_META_IIFNAME: return "iifname";
    case NFT_META_OIFNAME: return "oifname";
    case NFT_META_L4PROTO: return "l4proto";
    default: return "meta " + std::to_string(key);
  }
}

std::string payload_name(const nftnl_expr* e) {
  uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE),
           off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
  if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2)) return off ? "th dport" : "th sport";
  return "payload " + std::to_string(base) + "/" + std::to_string(off) + "/" + std::to_string(len);
}

std::string queue_words(uint16_t num, uint16_t total, bool bypass) {
  return "queue " + std::to_string(num) + (total > 1 ? "-" + std::to_string(num + total - 1) : "") +
         (bypass ? " bypass" : "");
}

std::string target_words(const nftnl_expr* e) {
  std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
  uint32_t rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV), len = 0;
  const void* d = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
  if (name != "NFQUEUE" || rev != 3 || !d || len < sizeof(xt_NFQ_info_v3))
    return "target " + name + " rev " + std::to_string(rev);
  xt_NFQ_info_v3 info;
  std::memcpy(&info, d, sizeof(info));
  return queue_words(info.queuenum, info.queues_total, info.flags & NFQ_FLAG_BYPASS) + " xt";
}

// One rule as words: "oifname eth0 l4proto udp th dport 500 queue 30002 bypass".
std::string describe(const nftnl_rule* r) {
  std::string words, loaded;
  auto add = [&words](const std::string& w) { words += (words.empty() ? "" : " ") + w; };
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
    std::string kind = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (kind == "meta")
      loaded = meta_key_name(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY));
    else if (kind == "payload")
      loaded = payload_name(e);
    else if (kind == "cmp")
      add(cmp_value(e, loaded));
    else if (kind == "queue")
      add(queue_words(nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM), nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL),
                      nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS) & NFT_QUEUE_FLAG_BYPASS));
    else if (kind == "target")
      add(target_words(e));
    else
      add(kind);
  }
  nftnl_expr_iter_destroy(it);
  return words;
}

std::string describe(const nftnl_chain* c) {
  auto s = [c](uint16_t a) { return nftnl_chain_is_set(c, a) ? std::string(nftnl_chain_get_str(c, a)) : "?"; };
  std::string hook = "none";
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
    hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD
               ? "forward"
               : std::to_string(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
  uint32_t policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
  return "chain " + s(NFTNL_CHAIN_NAME) + " " + s(NFTNL_CHAIN_TYPE) + " hook " + hook + " priority " +
         std::to_string(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO)) + " policy " +
         (policy == NF_ACCEPT ? "accept" : "drop");
}

NftNetlink::Build get_msg(uint16_t type, uint16_t flags, const std::string& table, const char* chain) {
  return [type, flags, table, chain](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    if (type == NFT_MSG_GETTABLE) {
      mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str());
    } else if (type == NFT_MSG_GETCHAIN) {
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain);
    } else {
      mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
    }
    return nlh;
  };
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
  int err = nl->request(get_msg(NFT_MSG_GETTABLE, 0, name, nullptr), nullptr);
  if (err == ENOENT) return std::optional<std::vector<std::string>>();
  if (err) return table_error("read", wan, err);
  std::vector<std::string> lines;
  err = nl->request(get_msg(NFT_MSG_GETCHAIN, 0, name, kChain), [&lines](const nlmsghdr* nlh) {
    ChainPtr c(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(nlh, c.get()) == 0) lines.push_back(describe(c.get()));
  });
  if (err == ENOENT)
    lines.push_back(std::string("no chain ") + kChain);
  else if (err)
    return table_error("read", wan, err);
  err = nl->request(get_msg(NFT_MSG_GETRULE, NLM_F_DUMP, name, nullptr), [&lines, &name](const nlmsghdr* nlh) {
    RulePtr r(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) == 0 && name == nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))
      lines.push_back(describe(r.get()));
  });
  if (err) return table_error("read", wan, err);
  return std::optional<std::vector<std::string>>(std::move(lines));
}

IkeTableWatch::IkeTableWatch(std::unique_ptr<NftNetlink> nl, std::string table)
    : nl_(std::move(nl)), table_(std::move(table)) {}
IkeTableWatch::IkeTableWatch(IkeTableWatch&&) noexcept = default;
IkeTableWatch::~IkeTableWatch() = default;

Result<IkeTableWatch> IkeTableWatch::open(const std::string& wan) {
  auto nl = NftNetlink::open_monitor();
  if (!nl) return nl.error();
  return IkeTableWatch(std::make_unique<NftNetlink>(std::move(*nl)), ike_table_name(wan));
}

int IkeTableWatch::fd() const { return nl_->fd(); }

bool IkeTableWatch::touched() {
  bool ours = false;
  nl_->drain([this, &ours](const nlmsghdr* nlh) {
    if (!nlh) {  // notifications lost
      ours = true;
      return;
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return;
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
      case NFT_MSG_NEWTABLE:
      case NFT_MSG_DELTABLE:
      case NFT_MSG_NEWCHAIN:
      case NFT_MSG_DELCHAIN:
      case NFT_MSG_NEWRULE:
      case NFT_MSG_DELRULE: break;
      default: return;  // set elements, objects, generations: not ours to watch
    }
    if (static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family != NFPROTO_IPV4) return;
    // The table's name is attribute 1 in all three (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE).
    auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
    auto* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (; mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
      if (mnl_attr_get_type(a) == NFTA_TABLE_NAME && table_ == mnl_attr_get_str(a)) ours = true;
  });
  return ours;
}

std::vector<std::string> expected_ike_table(const std::string& wan, uint16_t queue, NftQueueForm form) {
  std::string q = queue_words(queue, 1, true) + (form == NftQueueForm::Compat ? " xt" : "");
  return {
      std::string("chain ") + kChain + " filter hook forward priority " + std::to_string(kPriority) + " policy accept",
      "oifname " + wan + " l4proto udp th dport " + std::to_string(kIkePort) + " " + q,
      "iifname " + wan + " l4proto udp th sport " + std::to_string(kIkePort) + " " + q};
}

}  // namespace vpnpt
