// vpnpt's exit statuses, one table: main() returns them, the man page's
// EXIT STATUS section and the README list them from here.
#pragma once

namespace vpnpt {

inline constexpr int kExitOk = 0;
// Anything that failed: the one-line error says what and what to do.
inline constexpr int kExitError = 1;
// `status`: attached, but not whole. An interface is not attached (its
// traffic goes to the kernel's NAT), the daemon is down or not serving
// (new IPsec SAs are not bound, L2TP tunnel setup falls back to the kernel),
// or a session table is near full. The output's "health" says which.
inline constexpr int kExitDegraded = 2;
// The command line itself is wrong (sysexits.h EX_USAGE).
inline constexpr int kExitUsage = 64;
// The config file is wrong (EX_CONFIG): the systemd unit does not
// restart-loop on it (RestartPreventExitStatus=78).
inline constexpr int kExitConfig = 78;

struct ExitStatus {
  int code;
  const char* meaning;
};

inline constexpr ExitStatus kExitStatuses[] = {
    {kExitOk, "success; for status, every interface attached, the daemon serving and no table near full"},
    {kExitError, "an error; the one-line message says what and what to do"},
    {kExitDegraded,
     "status only: attached but degraded (an interface not attached, the daemon down or not serving, or a "
     "session table over 90% full); \"health\" in --json says which"},
    {kExitUsage, "the command line is wrong (unknown option, missing argument)"},
    {kExitConfig, "the config file is wrong (attach --config); the systemd unit does not restart on it"},
};

}  // namespace vpnpt
