// XDP attach and detach through libxdp, so vpnpt coexists with other XDP
// programs when libxdp's dispatcher works, and falls back to a plain
// single-program attach when it does not (libxdp decides; both work).
#pragma once

#include <xdp/libxdp.h>

#include <cstdint>
#include <string>

#include "abi/vpnpt_abi.h"
#include "loader/core/result.h"

namespace vpnpt {

// auto: native XDP where it can deliver, TC elsewhere; native/skb: XDP in that mode everywhere;
// tc: the TC path everywhere.
enum class ModeRequest { Auto, Native, Skb, Tc };

Result<ModeRequest> parse_mode(const std::string& text);
const char* mode_request_name(ModeRequest m);  // the inverse: "auto", "native", "skb", "tc"
const char* mode_name(uint32_t vpnpt_mode);

// Owning handle for a libxdp program object.
class XdpProgram {
 public:
  // Wraps program @prog_name of @obj (not yet loaded: libxdp loads it, as a
  // dispatcher extension or as a plain XDP program).
  static Result<XdpProgram> from_object(bpf_object* obj, const char* prog_name);
  XdpProgram(XdpProgram&& o) noexcept;
  XdpProgram& operator=(XdpProgram&&) = delete;
  XdpProgram(const XdpProgram&) = delete;
  ~XdpProgram();

  // Attaches to @ifindex; in Auto mode tries native first and falls back to
  // skb mode, logging why. Returns the vpnpt_xdp_mode used.
  Result<uint32_t> attach(uint32_t ifindex, const std::string& ifname, ModeRequest mode);
  uint32_t id() const;

 private:
  explicit XdpProgram(xdp_program* p) : p_(p) {}
  xdp_program* p_ = nullptr;
};

// True if libxdp's multi-program dispatcher runs on @ifindex.
bool xdp_uses_dispatcher(uint32_t ifindex);

// True if the program with @prog_id is attached to @ifindex (alone or in a dispatcher).
bool xdp_prog_attached(uint32_t ifindex, uint32_t prog_id);

// Replaces @old_fd, attached alone (no dispatcher) on @ifindex in @vpnpt_mode, by @new_fd in
// one request (XDP_FLAGS_REPLACE, Linux 5.7+): no packet meets no program, none meets both.
Status xdp_replace(uint32_t ifindex, uint32_t vpnpt_mode, int old_fd, int new_fd);

// Attaches the loaded program @prog_fd through libxdp in @vpnpt_mode (into its dispatcher when
// one runs there). Returns the attached program's id.
Result<uint32_t> xdp_attach_loaded(uint32_t ifindex, uint32_t vpnpt_mode, int prog_fd);

// Detaches the program with @prog_id from @ifindex; other programs stay.
// Not attached is not an error.
Status xdp_detach_prog(uint32_t ifindex, uint32_t prog_id);

}  // namespace vpnpt
