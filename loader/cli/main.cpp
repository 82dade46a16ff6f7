// vpnpt command line: attach, detach, status.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <functional>
#include <iostream>

#include "loader/dataplane/attachment.h"
#include "loader/cli/cli.h"
#include "loader/core/bpffs.h"
#include "loader/cli/config_file.h"
#include "loader/cli/diagnosis.h"
#include "loader/daemon/diag_ring.h"
#include "loader/cli/exit_codes.h"
#include "loader/daemon/daemon.h"
#include "loader/core/daemon_lock.h"
#include "loader/dataplane/kernel_helpers.h"
#include "loader/dataplane/kernel_probe.h"
#include "loader/dataplane/ip_passthrough.h"
#include "loader/core/log.h"
#include "loader/daemon/metrics.h"
#include "loader/core/netif.h"
#include "loader/core/protocols.h"
#include "loader/cli/reload.h"
#include "loader/cli/sessions.h"
#include "loader/cli/state_cmd.h"
#include "loader/cli/status.h"
#include "loader/dataplane/switches.h"
#include "loader/state/state.h"

using namespace vpnpt;

namespace {

int fail(const Error& e) {
  spdlog::error("{}", e.message());
  return kExitError;
}

// The configuration `attach` runs with: the file (if any), then the command line over it.
Result<VpnptConfig> attach_config(const AttachArgs& a, const CLI::App& cmd) {
  VpnptConfig cfg;
  if (!a.config.empty()) {
    auto c = load_config(a.config);
    if (!c) return c.error();
    cfg = std::move(*c);
  }
  auto given = [&](const char* opt) { return cmd.count(opt) > 0; };
  if (given("wan-if")) cfg.wan = a.wan;
  if (given("--lan")) cfg.lans = a.lans;
  if (given("--public-ip")) {
    auto ip = parse_ipv4(a.public_ip);
    if (!ip) return make_error("--public-ip: " + ip.error().what);
    cfg.public_ip = *ip;
  }
  if (given("--mode")) {
    auto m = parse_mode(a.mode);
    if (!m) return m.error();
    cfg.mode = *m;
  }
  if (given("--metrics-address")) cfg.metrics_address = a.metrics;
  if (a.no_metrics) cfg.metrics_address.reset();
  if (cfg.metrics_address)
    if (auto s = check_metrics_address(*cfg.metrics_address); !s) return s.error();
  if (given("--vlan-depth")) cfg.vlan_depth = a.vlan_depth;
  for (const auto& [list, on] : {std::pair{&a.on, true}, std::pair{&a.off, false}})
    for (const auto& p : *list) {
      auto bit = parse_protocol(p);
      if (!bit) return make_error(std::string(on ? "--on: " : "--off: ") + bit.error().what);
      (on ? cfg.switches_on : cfg.switches_off) |= *bit;
      (on ? cfg.switches_off : cfg.switches_on) &= ~*bit;
    }
  if (cfg.wan.empty()) return make_error("no WAN interface: give <wan-if> or --config FILE with 'wan = ...'");
  // No --lan and no 'lan =': attach picks the LAN side itself (loader/dataplane/lan_autopick.h).
  return cfg;
}

// SIGHUP's work in the daemon: @reread reads the file (and the command line
// over it) again; what changed and can change live is applied, the rest is
// named. @running is what the daemon runs with, updated by each reload.
std::function<std::optional<ReloadableTimeouts>()> config_reloader(VpnptConfig& running,
                                                                   std::function<Result<VpnptConfig>()> reread,
                                                                   const AttachmentId& id, bool log_level_pinned) {
  return [&running, reread = std::move(reread), id, log_level_pinned]() -> std::optional<ReloadableTimeouts> {
    auto next = reread();
    if (!next) {
      spdlog::error("config reload: {}; nothing changed", next.error().message());
      return std::nullopt;
    }
    auto d = diff_config(running, *next);
    if (d.empty()) {
      spdlog::info("config reload: nothing changed");
      return std::nullopt;
    }
    if (auto s = apply_live_changes(id, *next, d, log_level_pinned); !s) {
      spdlog::error("config reload stopped part way: {}; SIGHUP again retries", s.error().message());
      return std::nullopt;
    }
    if (!d.live.empty()) spdlog::info("config reload applied: {}", describe_changes(d.live));
    if (!d.restart.empty())
      spdlog::warn("config reload: not applied until vpnpt restarts (see vpnpt.conf(5), RELOADING): {}",
                   describe_changes(d.restart));
    running = keep_restart_keys(std::move(*next), running);
    return ReloadableTimeouts{running.pptp, running.ipsec_binder, running.ipsec};
  };
}

int cmd_attach(const VpnptConfig& cfg, std::function<Result<VpnptConfig>()> reread, bool log_level_pinned,
               const std::string& restore) {
  if (auto s = require_root("attach"); !s) return fail(s.error());
  AttachRequest req;
  req.wan = cfg.wan;
  req.lans = cfg.lans;
  req.mode = cfg.mode;
  req.public_ip = cfg.public_ip;
  req.load.vlan_depth = cfg.vlan_depth;
  req.load.natt_ct_timeout_ms = udp_stream_timeout_ms();

  auto id = attachment_for(cfg.wan);
  if (!id) return fail(id.error());
  set_log_wan(cfg.wan);
  // Take the daemon lock before touching anything: a second daemon must not race the first.
  auto lock = DaemonLock::acquire(id->lock_path);
  if (!lock) return fail(make_error(cfg.wan + " is already attached: " + lock.error().what));

  std::string state_text;
  if (!restore.empty()) {
    auto t = read_state_file(restore);
    if (!t) return fail(t.error());
    state_text = std::move(*t);
    // Before any interface is attached, no packet creates a session that the file's could meet.
    req.before_attach = [&](const PinnedMaps& maps) -> Status {
      auto done = restore_state(maps, cfg.wan, state_text);
      if (!done) return make_error("--restore " + restore + ": " + done.error().what, done.error().err);
      spdlog::info("restored from {}: {}", restore, *done);
      return {};
    };
  }
  auto att = attach_or_adopt(req);
  if (!att) return fail(att.error());
  // Switches named by the file or --on/--off; the others stay as they are (adopted state wins).
  if (auto cur = att->maps.config()) {
    for (uint32_t bit : {uint32_t{VPNPT_SW_PPTP}, uint32_t{VPNPT_SW_IPSEC}, uint32_t{VPNPT_SW_L2TP}}) {
      bool is_on = cur->switches & bit;
      if (((cfg.switches_on & bit) && !is_on) || ((cfg.switches_off & bit) && is_on))
        if (auto r = set_switch(att->id, bit, !is_on); !r) return fail(r.error());
    }
  }
  if (cfg.ip_passthrough_host) {
    if (auto s = set_ip_passthrough(att->id, cfg.ip_passthrough_host, std::nullopt); !s) return fail(s.error());
    spdlog::info("IP passthrough to {}", format_ipv4(*cfg.ip_passthrough_host));
  }
  for (const auto& d : kernel_degradations()) spdlog::warn("kernel {}: {}", kernel_release(), d.effect);
  if (auto s = lock->mark_ready(); !s) return fail(s.error());
  DaemonOptions opts;
  opts.metrics_address = cfg.metrics_address.value_or("");
  opts.timeouts = {cfg.pptp, cfg.ipsec_binder, cfg.ipsec};
  VpnptConfig running = cfg;
  if (reread) opts.reload = config_reloader(running, std::move(reread), att->id, log_level_pinned);
  if (auto s = run_daemon(*att, opts); !s) return fail(s.error());
  return 0;
}

int cmd_detach(const std::string& wan) {
  if (auto s = require_root("detach"); !s) return fail(s.error());
  auto id = attachment_for(wan);
  if (!id) return fail(id.error());
  if (auto s = detach(*id); !s) return fail(s.error());
  spdlog::info("detached {}; no programs or pins left", wan);
  return 0;
}

int cmd_status(const std::string& wan, bool as_json) {
  if (!bpffs_mounted()) return fail(make_error("bpffs is not mounted at /sys/fs/bpf: nothing is attached"));
  std::vector<AttachmentId> ids;
  if (!wan.empty()) {
    auto id = attachment_for(wan);
    if (!id) return fail(id.error());
    ids.push_back(*id);
  } else {
    ids = attachments_in_this_netns();
    if (ids.empty()) return fail(make_error("vpnpt is not attached in this network namespace"));
  }
  nlohmann::json all = nlohmann::json::array();
  bool degraded = false;
  for (const auto& id : ids) {
    auto st = status_json(id);
    if (!st) return fail(st.error());
    degraded |= (*st)["health"]["state"] != "ok";
    if (as_json)
      all.push_back(*st);
    else
      std::cout << status_text(*st);
  }
  if (as_json) std::cout << (wan.empty() ? all.dump(2) : all[0].dump(2)) << "\n";
  return degraded ? kExitDegraded : kExitOk;
}

// The attachment a command means: the named WAN, or the only one in this namespace.
Result<AttachmentId> pick_attachment(const std::string& wan) {
  if (!bpffs_mounted()) return make_error("bpffs is not mounted at /sys/fs/bpf: nothing is attached");
  if (!wan.empty()) return attachment_for(wan);
  auto ids = attachments_in_this_netns();
  if (ids.empty()) return make_error("vpnpt is not attached in this network namespace");
  if (ids.size() > 1) return make_error("several attachments in this namespace; name one with --wan <if>");
  return ids.front();
}

int cmd_set(const std::string& proto, const std::string& value, const std::string& wan) {
  if (auto s = require_root("set"); !s) return fail(s.error());
  auto bit = parse_protocol(proto);
  if (!bit) return fail(bit.error());
  auto on = parse_on_off(value);
  if (!on) return fail(on.error());
  auto id = pick_attachment(wan);
  if (!id) return fail(id.error());
  if (auto s = set_switch(*id, *bit, *on); !s) return fail(s.error());
  spdlog::info("{} passthrough {} on {}{}", proto, *on ? "on" : "off", id->wan_if,
               *on ? "" : "; the daemon flushes its sessions (at once, or when it next starts)");
  return 0;
}

int cmd_ip_passthrough(const std::string& wan, const std::string& host, const std::vector<std::string>& keep) {
  if (auto s = require_root("ip-passthrough"); !s) return fail(s.error());
  std::optional<uint32_t> h;
  if (host != "off") {
    auto p = parse_ipv4(host);
    if (!p) return fail(make_error("passthrough host: " + p.error().what + " (or 'off')"));
    h = *p;
  }
  auto id = attachment_for(wan);
  if (!id) return fail(id.error());
  std::optional<std::vector<std::string>> ports;
  if (!keep.empty()) ports = keep;
  if (auto s = set_ip_passthrough(*id, h, ports); !s) return fail(s.error());
  if (h)
    spdlog::info("IP passthrough on {}: unsolicited traffic to the public IP goes to {}", wan, host);
  else
    spdlog::info("IP passthrough off on {}", wan);
  return 0;
}

int cmd_sessions(const std::string& wan, const std::string& proto, const std::string& host, bool as_json) {
  auto id = pick_attachment(wan);
  if (!id) return fail(id.error());
  SessionFilter f;
  if (!proto.empty()) {
    if (!find_protocol(proto))
      return fail(make_error("unknown protocol '" + proto + "' (expected " + protocol_choices() + ")"));
    f.proto = proto;
  }
  if (!host.empty()) {
    auto h = parse_ipv4(host);
    if (!h) return fail(make_error("--host: " + h.error().what));
    f.host = *h;
  }
  auto rows = sessions_json(*id, f);
  if (!rows) return fail(rows.error());
  std::cout << (as_json ? rows->dump(2) + "\n" : sessions_text(*rows));
  return 0;
}

int cmd_state(bool save, const std::string& file, const std::string& wan) {
  if (auto s = require_root(save ? "state save" : "state restore"); !s) return fail(s.error());
  auto id = pick_attachment(wan);
  if (!id) return fail(id.error());
  if (save) {
    auto n = save_state_file(*id, file);
    if (!n) return fail(n.error());
    if (file != "-") spdlog::info("saved {} session table entries of {} to {}", *n, id->wan_if, file);
    return 0;
  }
  auto done = restore_state_file(*id, file);
  if (!done) return fail(make_error("state restore " + file + ": " + done.error().what, done.error().err));
  spdlog::info("restored into {} from {}: {}", id->wan_if, file, *done);
  return 0;
}

int cmd_diagnose(const std::string& wan, const std::string& host, bool as_json) {
  auto id = pick_attachment(wan);
  if (!id) return fail(id.error());
  std::optional<uint32_t> h;
  if (!host.empty()) {
    auto p = parse_ipv4(host);
    if (!p) return fail(make_error("LAN host: " + p.error().what));
    h = *p;
  }
  auto found = diagnose(*id, h, 40);
  if (!found) return fail(found.error());
  uint64_t now = wall_ns();
  if (as_json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& f : *found) all.push_back(finding_json(f, now));
    std::cout << all.dump(2) << "\n";
  } else if (found->empty()) {
    std::cout << "nothing went wrong recently" << (host.empty() ? "" : " for " + host) << "\n";
  } else {
    for (const auto& f : *found) std::cout << finding_text(f, now) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto cli = make_cli();
  CLI::App& app = cli->app;
  CliArgs& a = cli->args;
  AttachArgs& aa = a.attach;
  auto *attach = cli->attach, *det = cli->detach, *st = cli->status, *ses = cli->sessions, *dia = cli->diagnose,
       *set = cli->set, *ipt = cli->ip_passthrough;
  std::string& log_level = a.log_level;
  bool& verbose = a.verbose;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that succeed; every real one is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  std::optional<Result<VpnptConfig>> cfg;
  if (attach->parsed()) cfg = attach_config(aa, *attach);
  // A config file may set the log level; --log-level and -v win.
  bool level_given = app.count("--log-level") > 0;
  std::string level = verbose ? "debug" : (level_given || !cfg || !*cfg) ? log_level : (*cfg)->log_level;
  init_logging(level, running_under_journald());

  if (attach->parsed()) {
    if (!*cfg) {
      spdlog::error("{}", (*cfg).error().message());
      return aa.config.empty() ? kExitError : kExitConfig;
    }
    std::function<Result<VpnptConfig>()> reread;
    if (!aa.config.empty()) reread = [&aa, attach] { return attach_config(aa, *attach); };
    return cmd_attach(**cfg, std::move(reread), verbose || level_given, aa.restore);
  }
  if (det->parsed()) return cmd_detach(a.detach_wan);
  if (st->parsed()) return cmd_status(a.status_wan, a.status_json);
  if (set->parsed()) return cmd_set(a.set_proto, a.set_value, a.set_wan);
  if (ipt->parsed()) return cmd_ip_passthrough(a.pt_wan, a.pt_host, a.pt_keep);
  if (ses->parsed()) return cmd_sessions(a.ses_wan, a.ses_proto, a.ses_host, a.ses_json);
  if (dia->parsed()) return cmd_diagnose(a.diag_wan, a.diag_host, a.diag_json);
  if (cli->state_save->parsed()) return cmd_state(true, a.state_file, a.state_wan);
  if (cli->state_restore->parsed()) return cmd_state(false, a.state_file, a.state_wan);
  return 1;
}
