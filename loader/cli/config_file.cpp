#include "loader/cli/config_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <functional>

#include "loader/core/fd.h"
#include "loader/core/log.h"
#include "loader/core/netif.h"
#include "loader/dataplane/switches.h"

namespace vpnpt {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxDuration{7LL * 24 * 3600 * 1000};
constexpr size_t kMaxFileSize = 1 << 20;

// A value as it appears in an error: quoted, control bytes escaped so the
// message stays one line.
std::string shown(std::string_view v) {
  std::string out = "'";
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

enum class DurationProblem { None, Syntax, Zero, TooLong };

DurationProblem to_duration(std::string_view text, milliseconds& out) {
  uint64_t n = 0;
  const char* b = text.data();
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, n);
  if (p == b) return DurationProblem::Syntax;  // no digits (a sign, a word, empty)
  std::string_view unit(p, static_cast<size_t>(e - p));
  uint64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60 * 1000;
  else if (unit == "h")
    scale = 3600 * 1000;
  else
    return DurationProblem::Syntax;
  if (ec == std::errc::result_out_of_range) return DurationProblem::TooLong;
  if (n == 0) return DurationProblem::Zero;
  if (n > static_cast<uint64_t>(kMaxDuration.count()) / scale) return DurationProblem::TooLong;
  out = milliseconds(static_cast<int64_t>(n * scale));
  return DurationProblem::None;
}

// Linux's own rule (dev_valid_name): 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
std::string check_ifname(const std::string& key, const std::string& name) {
  if (name.size() > 15) return "'" + key + "': " + shown(name) + " is not an interface name (at most 15 characters)";
  if (name == "." || name == ".." || name.find_first_of("/:") != std::string::npos ||
      std::any_of(name.begin(), name.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
    return "'" + key + "': " + shown(name) + " is not an interface name";
  return {};
}

// A host address: not 0/8, loopback, multicast, reserved or broadcast.
// @expect says what the key takes, for the error.
std::string parse_host(const std::string& key, const std::string& value, const char* expect, uint32_t& out) {
  auto ip = parse_ipv4(value);
  if (!ip) return "'" + key + "' must be " + expect + ", got " + shown(value);
  const uint32_t first = ntohl(*ip) >> 24;
  if (first == 0 || first == 127 || first >= 224)
    return "'" + key + "' must be " + expect + ", got " + shown(value) + ", which is not a unicast host address";
  out = *ip;
  return {};
}

struct Parser;
// Applies one value; returns the problem ("" if none), which names the key.
using Setter = std::function<std::string(Parser&, const std::string& key, const std::string& value, unsigned line)>;

// One key: what the docs say about it (vpnpt.conf(5) is generated from
// these) and how its value is applied.
struct Key {
  ConfigKeyDoc doc;
  Setter set;
};

struct Parser {
  VpnptConfig cfg;
  std::map<std::string, unsigned> lan_lines;  // LAN name -> line that listed it
};

std::string one_word(const std::string& key, const std::string& value) {
  if (words(value).size() != 1) return "'" + key + "' takes one value, got " + shown(value);
  return {};
}

// Duration setters. Second-granular fields refuse sub-second values rather than rounding.
template <class Get>
Setter duration_setter(Get get, bool whole_seconds) {
  return [get, whole_seconds](Parser& p, const std::string& key, const std::string& value, unsigned) -> std::string {
    milliseconds d{};
    switch (to_duration(value, d)) {
      case DurationProblem::None: break;
      case DurationProblem::Syntax:
        return "'" + key + "' needs a duration like " + (whole_seconds ? "30s or 5m" : "5s or 500ms") + ", got " +
               shown(value) + " (units: ms, s, m, h; no unit: seconds)";
      case DurationProblem::Zero: return "'" + key + "' must be more than 0, got " + shown(value);
      case DurationProblem::TooLong: return "'" + key + "' must be at most 7 days (168h), got " + shown(value);
    }
    if (whole_seconds && d.count() % 1000 != 0) return "'" + key + "' counts whole seconds, got " + shown(value);
    get(p.cfg) = std::chrono::duration_cast<std::remove_reference_t<decltype(get(p.cfg))>>(d);
    return {};
  };
}

Setter switch_setter() {
  return [](Parser& p, const std::string& key, const std::string& value, unsigned) -> std::string {
    auto bit = parse_protocol(key);
    if (!bit) return "'" + key + "': " + bit.error().what;  // not reached: the key table names protocols only
    auto on = parse_on_off(value);
    if (!on) return "'" + key + "' must be on or off, got " + shown(value);
    (*on ? p.cfg.switches_on : p.cfg.switches_off) |= *bit;
    return {};
  };
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      {{"wan", "IFNAME", nullptr, false, "The WAN (internet-facing) interface. Required."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         if (words(v).size() != 1) return "'wan' takes one interface name, got " + shown(v);
         if (auto e = check_ifname(key, v); !e.empty()) return e;
         p.cfg.wan = v;
         return {};
       }},
      {{"lan", "IFNAME ...", nullptr, true,
        "The LAN interfaces, space-separated; 'lan =' lines add up. The WAN cannot also be a LAN. Without any 'lan' "
        "line (and no --lan), vpnpt picks every other interface that is up and carries a private or shared IPv4 prefix "
        "(10/8, 172.16/12, 192.168/16, "
        "100.64/10), bridges included, and logs one line per interface saying why."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned line) -> std::string {
         for (const auto& name : words(v)) {
           if (auto e = check_ifname(key, name); !e.empty()) return e;
           auto [it, fresh] = p.lan_lines.emplace(name, line);
           if (!fresh)
             return "'lan': interface " + shown(name) +
                    (it->second == line
                         ? " listed twice on this line"
                         : " listed twice (lines " + std::to_string(it->second) + " and " + std::to_string(line) + ")");
           p.cfg.lans.push_back(name);
         }
         return {};
       }},
      {{"public_ip", "A.B.C.D", nullptr, false,
        "The public IPv4 address the LAN hosts are masqueraded to. Default: the WAN interface's primary IPv4 "
        "address."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         uint32_t ip = 0;
         if (auto e = parse_host(key, v, "an IPv4 address like 203.0.113.1", ip); !e.empty()) return e;
         p.cfg.public_ip = ip;
         return {};
       }},
      {{"mode", "auto|native|skb|tc", "auto", false,
        "Data path: auto (native XDP on an interface whose driver runs it and whose every forwarding target can "
        "transmit XDP frames, the TC path elsewhere; one log line per interface says which and why), native, skb "
        "(generic XDP), or tc."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         auto m = parse_mode(v);
         if (!m) return "'" + key + "': " + m.error().what;
         p.cfg.mode = *m;
         return {};
       }},
      {{"metrics_address", "HOST:PORT|off", kDefaultMetricsAddress, false, "The Prometheus endpoint, or off for none."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         if (v == "off") {
           p.cfg.metrics_address.reset();
           return {};
         }
         if (auto e = one_word(key, v); !e.empty()) return e;
         if (auto s = check_metrics_address(v); !s)
           return "'" + key + "': " + s.error().what + "; give HOST:PORT or off";
         p.cfg.metrics_address = v;
         return {};
       }},
      {{"log_level", "trace|debug|info|warn|error", "info", false, "How much the daemon logs."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         if (std::find(std::begin(kLogLevels), std::end(kLogLevels), v) == std::end(kLogLevels))
           return "'" + key + "' must be trace, debug, info, warn or error, got " + shown(v);
         p.cfg.log_level = v;
         return {};
       }},
      {{"pptp", "on|off", nullptr, false,
        "PPTP passthrough, applied at attach. A protocol not named in the file keeps its switch (on for a fresh "
        "attachment; as last set with 'vpnpt set' for a running data plane that attach adopts)."},
       switch_setter()},
      {{"ipsec", "on|off", nullptr, false, "IPsec passthrough, applied at attach (as pptp)."}, switch_setter()},
      {{"l2tp", "on|off", nullptr, false, "L2TP passthrough, applied at attach (as pptp)."}, switch_setter()},
      {{"ip_passthrough", "off|A.B.C.D", "off", false,
        "The LAN host that gets the public address's unsolicited traffic, or off."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         if (v == "off") {
           p.cfg.ip_passthrough_host.reset();
           return {};
         }
         uint32_t ip = 0;
         if (auto e = parse_host(key, v, "off or a LAN host's IPv4 address A.B.C.D", ip); !e.empty()) return e;
         p.cfg.ip_passthrough_host = ip;
         return {};
       }},
      {{"pptp_unanswered_timeout", "DURATION", "30s", false,
        "A PPTP call the server has not answered (Outgoing/Incoming-Call-Reply) is dropped after this long. Whole "
        "seconds."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.pptp.unanswered; }, true)},
      {{"pptp_idle_timeout", "DURATION", "300s", false,
        "An established PPTP call without GRE or control traffic is dropped after this long. Whole seconds."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.pptp.idle; }, true)},
      {{"pptp_closing_grace", "DURATION", "10s", false,
        "A cleared PPTP call's Call ID stays reserved for late packets this long. Whole seconds."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.pptp.closing_grace; }, true)},
      {{"ipsec_hold", "DURATION", "5s", false,
        "A host whose CHILD_SA exchange finished owns its server's next unknown SPI this long."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.ipsec_binder.hold; }, false)},
      {{"ipsec_max_wait", "DURATION", "10s", false,
        "Longest another host's CHILD_SA request is held behind the owner (then dropped; the client retransmits). Not "
        "shorter than ipsec_hold."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.ipsec_binder.max_wait; }, false)},
      {{"ipsec_stale", "DURATION", "15s", false,
        "After its window, an unbound owner stays a candidate this long, so a late SPI is refused rather than given to "
        "another host."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.ipsec_binder.stale; }, false)},
      {{"ipsec_sa_idle", "DURATION", "600s", false, "An ESP SA without packets this long is forgotten. Whole seconds."},
       duration_setter(
           [](VpnptConfig & c) -> auto& { return c.ipsec.sa_idle; }, true)},
      {{"vlan_depth", "0|1|2", "2", false, "VLAN tags the data plane looks through."},
       [](Parser& p, const std::string& key, const std::string& v, unsigned) -> std::string {
         if (v.size() != 1 || v[0] < '0' || v[0] > '0' + VPNPT_VLAN_DEPTH_MAX)
           return "'" + key + "' must be 0, 1 or 2, got " + shown(v);
         p.cfg.vlan_depth = static_cast<uint32_t>(v[0] - '0');
         return {};
       }},
  };
  return k;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool is_subsequence(std::string_view small, std::string_view big) {
  size_t i = 0;
  for (char c : big)
    if (i < small.size() && small[i] == c) ++i;
  return i == small.size();
}

// The known key a typo most likely meant: a few edits away, or the typo with
// letters left out (pptp_timout -> pptp_idle_timeout). Case and '-' are ignored.
std::string suggestion(std::string_view typed) {
  std::string t;
  for (char c : typed) t += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : keys()) {
    size_t d = edit_distance(t, k.doc.name);
    bool close = d <= std::max<size_t>(2, t.size() / 4) || (t.size() >= 4 && is_subsequence(t, k.doc.name));
    if (close && d < best_d) {
      best = k.doc.name;
      best_d = d;
    }
  }
  return best;
}

}  // namespace

const std::vector<ConfigKeyDoc>& config_keys() {
  static const std::vector<ConfigKeyDoc> docs = [] {
    std::vector<ConfigKeyDoc> d;
    for (const auto& k : keys()) d.push_back(k.doc);
    return d;
  }();
  return docs;
}

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

Result<milliseconds> parse_duration(std::string_view text) {
  milliseconds d{};
  switch (to_duration(text, d)) {
    case DurationProblem::None: return d;
    case DurationProblem::Syntax: return make_error(shown(text) + " is not a duration like 5s or 500ms");
    case DurationProblem::Zero: return make_error("a duration must be more than 0, got " + shown(text));
    case DurationProblem::TooLong: return make_error("a duration must be at most 7 days (168h), got " + shown(text));
  }
  return d;
}

Result<VpnptConfig> parse_config(std::string_view text, const std::string& path) {
  // Values quoted by the loader's own parsers (parse_mode, ...) are not
  // escaped: escape control bytes in the whole message to keep it one line.
  auto fail = [&](unsigned line, const std::string& problem) {
    std::string p = shown(problem);
    return make_error(path + ":" + std::to_string(line) + ": " + p.substr(1, p.size() - 2));
  };
  Parser p;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM (Windows editors)

  unsigned line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF

    // A comment starts with '#' at the start of the line or after whitespace.
    for (size_t i = 0; i < line.size(); ++i)
      if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) {
        line = line.substr(0, i);
        break;
      }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[')
      return fail(line_no, "sections like " + shown(line) + " are not supported; the file is flat 'key = value' lines");

    size_t eq = line.find('=');
    std::string key(trim(line.substr(0, eq == std::string_view::npos ? line.size() : eq)));
    if (eq == std::string_view::npos || key.empty()) return fail(line_no, "expected 'key = value', got " + shown(line));
    std::string value(trim(line.substr(eq + 1)));

    auto k = std::find_if(keys().begin(), keys().end(), [&](const Key& x) { return key == x.doc.name; });
    if (k == keys().end()) {
      std::string s = suggestion(key);
      return fail(line_no, "unknown key " + shown(key) + (s.empty() ? "" : " (did you mean '" + s + "'?)"));
    }
    if (value.empty()) return fail(line_no, "'" + key + "' has no value");
    if (auto [it, fresh] = p.cfg.lines.emplace(key, line_no); !fresh && !k->doc.repeatable)
      return fail(line_no, "'" + key + "' given twice (lines " + std::to_string(it->second) + " and " +
                               std::to_string(line_no) + "); each key but 'lan' may appear once");
    if (auto problem = k->set(p, key, value, line_no); !problem.empty()) return fail(line_no, problem);
  }

  // Whole-file checks.
  if (p.cfg.wan.empty()) return make_error(path + ": no 'wan' given (add a line like 'wan = eth0')");
  if (auto it = p.lan_lines.find(p.cfg.wan); it != p.lan_lines.end())
    return fail(it->second, "'lan': " + shown(p.cfg.wan) + " is already the 'wan' (line " +
                                std::to_string(p.cfg.lines.at("wan")) + "); the WAN cannot also be a LAN");
  const auto& b = p.cfg.ipsec_binder;
  if (b.max_wait < b.hold) {
    // Blame the key the file set (the later one if it set both).
    bool wait_set = p.cfg.lines.count("ipsec_max_wait"), hold_set = p.cfg.lines.count("ipsec_hold");
    unsigned line =
        std::max(wait_set ? p.cfg.lines.at("ipsec_max_wait") : 0u, hold_set ? p.cfg.lines.at("ipsec_hold") : 0u);
    return fail(line, "'ipsec_max_wait' (" + format_duration(b.max_wait) + (wait_set ? "" : ", the default") +
                          ") is shorter than 'ipsec_hold' (" + format_duration(b.hold) +
                          (hold_set ? "" : ", the default") +
                          "); a held IKE request must be able to wait out the owner's window");
  }
  return std::move(p.cfg);
}

Result<VpnptConfig> load_config(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return make_error("cannot read config file " + path, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    int err = errno;
    return make_error("cannot read config file " + path, err);
  }
  if (S_ISDIR(st.st_mode)) return make_error("cannot read config file " + path + ": it is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxFileSize)
    return make_error("config file " + path + " is larger than 1 MiB; is it the right file?");
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return make_error("cannot read config file " + path, err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileSize)
      return make_error("config file " + path + " is larger than 1 MiB; is it the right file?");
  }
  return parse_config(text, path);
}

}  // namespace vpnpt
