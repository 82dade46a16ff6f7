#!/usr/bin/env bash
# Runs a command under a Debian packaged kernel in a QEMU VM (TCG, no KVM),
# with this machine's own userland, so tests can meet kernels other than the
# host's: Debian 12's 6.1 and Debian 13's 6.12, whose 8021q, veth, bridge,
# conntrack, ... are modules that load in the guest.
#
#   sudo bash tools/kernel-vm.sh [--kernel 6.1|6.12] [--mem MiB] [--cpus N]
#                                [--timeout SECONDS] [--share DIR]
#                                [--init bash|systemd] -- COMMAND...
#
#   --kernel   6.1 = linux-image-amd64 of bookworm (incl. bookworm-security),
#              6.12 = linux-image-amd64 of trixie (incl. trixie-security).
#              Default 6.1.
#   --mem      guest memory in MiB (default 4096); --cpus: vCPUs (default 2)
#   --timeout  qemu is killed after this many seconds (default 3600)
#   --share    directory shared read-write at the same path (default: the
#              current directory, which must not be /); the command starts in
#              the current directory
#   --init     bash (default): COMMAND runs as PID 1's only job, nothing else
#              runs; systemd: systemd (the host's) is PID 1 and runs COMMAND as
#              the service kernel-vm-job.service of the target kernel-vm.target
#              (basic.target and nothing else of the host's enabled units:
#              journald, udev, tmpfiles; no fstab, no network), so COMMAND
#              can use systemctl, journalctl and Type=notify units
#   COMMAND    one argument: a bash command line (`-- 'cd x && y "[tag]"'`);
#              several: a program and its arguments, run as they are
#
# Exits with COMMAND's exit status; 124 when the timeout struck, 125 when the
# VM did not run the command to its end (boot failure, kernel panic).
#
# The first run for a kernel downloads its package with apt-get (a private
# sources list and apt state: the host's apt setup stays as it is) and unpacks
# it under $VPNPT_KERNEL_CACHE/<kernel> (default /var/cache/vpnpt-kernels).
# Later runs use that copy; delete the directory to take a newer kernel.
# $VPNPT_KERNEL_APPEND is added to the kernel command line (loglevel=7 shows
# the kernel's messages, which "quiet loglevel=4" keeps to errors).
# Installs qemu-system-x86, busybox-static, cpio, kmod, xz-utils and zstd if
# they are missing.
#
# The guest: a busybox initramfs (tools/kernel-vm/init) loads virtio-pci, 9p
# and overlay from the package and mounts the host's / read-only over 9p
# under a tmpfs overlay (writes land in guest memory and vanish at poweroff),
# the share read-write, the package's module tree at /lib/modules/$(uname -r),
# fresh /tmp and /run, proc, sysfs, devtmpfs, devpts, bpffs, cgroup2, debugfs
# and tracefs; then bash runs COMMAND as root with this shell's PATH, stdin
# from /dev/null, output to the serial console = this script's stdout.
set -euo pipefail

KERNEL=6.1 MEM=4096 CPUS=2 TIMEOUT=3600 SHARE=$PWD INIT=bash
CACHE=${VPNPT_KERNEL_CACHE:-/var/cache/vpnpt-kernels}
MIRROR=${VPNPT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "kernel-vm: $*" >&2; }
die() { say "$*"; exit 125; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2; }

while (($#)); do
  case $1 in
    --kernel) KERNEL=${2:?}; shift 2 ;;
    --mem) MEM=${2:?}; shift 2 ;;
    --cpus) CPUS=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --share) SHARE=${2:?}; shift 2 ;;
    --init) INIT=${2:?}; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) say "unknown option: $1"; usage ;;
  esac
done
(($#)) || usage
case $KERNEL in
  6.1) SUITE=bookworm ;;
  6.12) SUITE=trixie ;;
  *) die "--kernel must be 6.1 or 6.12, not '$KERNEL'" ;;
esac
[[ $INIT == bash || $INIT == systemd ]] || die "--init must be bash or systemd, not '$INIT'"
[[ $INIT == bash || -x /lib/systemd/systemd ]] || die "--init systemd: no /lib/systemd/systemd on this machine"
[[ $MEM =~ ^[0-9]+$ && $CPUS =~ ^[0-9]+$ && $TIMEOUT =~ ^[0-9]+$ ]] ||
  die "--mem, --cpus and --timeout take numbers"
[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, the kernel cache, 9p passthrough)"
SHARE=$(cd "$SHARE" && pwd -P) || die "--share: no such directory"
[ "$SHARE" != / ] || die "will not share / read-write; cd somewhere or pass --share DIR"
[[ $CACHE == /?* ]] || die "VPNPT_KERNEL_CACHE must be an absolute path"

# Everything this run creates lives in $RUN and the qemu process; both go on
# any exit, Ctrl-C included. A kernel download half done is removed by its
# own trap below.
RUN='' QPID=''
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
  fi
  if [ -n "$RUN" ]; then rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
RUN=$(mktemp -d /tmp/kernel-vm.XXXXXX)

# --- tools -------------------------------------------------------------------
BUSYBOX=''
static_busybox() {
  local b
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; return 0; fi
  done
  return 1
}
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
static_busybox || need+=(busybox-static)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  static_busybox || die "no static busybox after installing busybox-static"
fi

# --- the kernel package ------------------------------------------------------
# $KDIR holds vmlinuz (and vmlinux, unpacked from it), config, package
# ("name version"), kver, and lib/modules/<kver> with its modules.dep.
KDIR=$CACHE/$KERNEL
fetch_kernel() { # fetch_kernel STAGE: download and unpack into STAGE, then rename it to $KDIR
  local stage=${1:?} apt=$RUN/apt key=/usr/share/keyrings/debian-archive-keyring.gpg
  local pkg deb kver mods
  mkdir -p "$apt"/{lists/partial,archives/partial,sources.list.d,preferences.d}
  : >"$apt/status"
  printf 'deb [signed-by=%s] %s\n' \
    "$key" "$MIRROR $SUITE main" \
    "$key" "$MIRROR $SUITE-updates main" \
    "$key" "$MIRROR-security $SUITE-security main" >"$apt/sources.list"
  local opts=(
    -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/sources.list.d"
    -o Dir::Etc::Preferences="$apt/preferences" -o Dir::Etc::PreferencesParts="$apt/preferences.d"
    -o Dir::State="$apt" -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status"
    -o Dir::Cache="$apt" -o Dir::Cache::Archives="$apt/archives"
    -o Dir::Cache::pkgcache='' -o Dir::Cache::srcpkgcache=''
    -o APT::Architecture=amd64 -o APT::Architectures::=amd64
    -o Acquire::Languages=none -o APT::Sandbox::User=root -o Debug::NoLocking=1
  )
  say "fetching Debian $SUITE's linux-image-amd64 (once; cached in $KDIR)"
  apt-get "${opts[@]}" -qq update
  pkg=$(apt-cache "${opts[@]}" depends linux-image-amd64 |
    sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  [[ $pkg == linux-image-$KERNEL.* ]] || die "$SUITE's linux-image-amd64 wants '$pkg', not a $KERNEL kernel"
  (cd "$apt/archives" && apt-get "${opts[@]}" -qq download "$pkg")
  deb=$(ls "$apt/archives/$pkg"_*.deb)
  rm -rf "$stage"
  mkdir -p "$stage/lib/modules"
  dpkg-deb -x "$deb" "$stage/pkg"
  echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$stage/package"
  # Debian 13 ships its modules in /usr/lib/modules, Debian 12 in /lib/modules.
  mods=$(ls -d "$stage"/pkg/{usr/,}lib/modules/*/ 2>/dev/null | head -n1)
  [ -n "$mods" ] || die "no modules in $pkg"
  kver=$(basename "$mods")
  [ -f "$stage/pkg/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $pkg"
  mv "$mods" "$stage/lib/modules/$kver"
  mv "$stage/pkg/boot/vmlinuz-$kver" "$stage/vmlinuz"
  mv "$stage/pkg/boot/config-$kver" "$stage/config"
  rm -rf "$stage/pkg" "$apt"
  extract_vmlinux "$stage/vmlinuz" "$stage/vmlinux" ||
    say "no vmlinux in the vmlinuz; booting the compressed kernel (slower)"
  depmod -b "$stage" "$kver"
  echo "$kver" >"$stage/kver"
  rm -rf "$KDIR"
  mv "$stage" "$KDIR"
  say "$(cat "$KDIR/package") unpacked in $KDIR"
}
# The uncompressed ELF inside a bzImage (xz in Debian 12, zstd in 13), found
# as the kernel's scripts/extract-vmlinux finds it. QEMU boots it through its
# PVH entry, which spares the ~7 s that decompressing takes under TCG.
extract_vmlinux() { # extract_vmlinux VMLINUZ OUT
  local magic tool off
  for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd'; do
    tool=${magic##*:}
    for off in $(LC_ALL=C grep -obUaP "${magic%:*}" "$1" | head -n5 | cut -d: -f1); do
      tail -c +$((off + 1)) "$1" | "$tool" -qdc >"$2" 2>/dev/null || true
      if [ "$(head -c4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then return 0; fi
    done
  done
  rm -f "$2"
  return 1
}
mkdir -p "$CACHE"
( # one download at a time, also across parallel runs
  flock 9
  stage=$CACHE/.stage-$KERNEL
  trap 'rm -rf "$stage"' EXIT
  [ -f "$KDIR/kver" ] || fetch_kernel "$stage"
) 9>"$CACHE/.lock" || exit 125
KVER=$(cat "$KDIR/kver")
MODDIR=$KDIR/lib/modules/$KVER

# --- the initramfs: busybox, the init, and the modules needed to mount / ----
IR=$RUN/initramfs
mkdir -p "$IR"/{bin,dev,proc,sys,etc,mods,newroot}
cp "$BUSYBOX" "$IR/bin/busybox"
install -m 0755 "$HERE/kernel-vm/init" "$IR/init"
echo "$KVER" >"$IR/etc/kver"
echo "$SHARE" >"$IR/etc/share"
echo "$INIT" >"$IR/etc/init-mode"
mods_for() { # the .ko files, dependencies first, that MODULE needs (none when built in)
  modprobe -d "$KDIR" -S "$KVER" --show-depends "$1" | sed -n 's/^insmod \([^ ]*\).*/\1/p'
}
: >"$IR/mods/order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  for ko in $(mods_for "$m"); do
    name=$(basename "$ko")
    name=${name%%.ko*}.ko
    ! grep -qx "$name" "$IR/mods/order" || continue
    case $ko in # busybox insmod wants them uncompressed
      *.xz) xz -dc "$ko" >"$IR/mods/$name" ;;
      *.zst) zstd -qdc "$ko" >"$IR/mods/$name" ;;
      *) cp "$ko" "$IR/mods/$name" ;;
    esac
    echo "$name" >>"$IR/mods/order"
  done
done
(cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1) >"$RUN/initramfs.gz"

# --- the job: PID 1 of the guest after switch_root ---------------------------
mkdir -p "$RUN/io"
{
  echo '#!/bin/bash'
  for v in PATH LANG LC_ALL TERM CI; do
    if [ -n "${!v:-}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
  done
  echo 'export HOME=/root'
  echo 'echo "kernel-vm: $(uname -r) up $(cut -d" " -f1 /proc/uptime) s, running the command" >&2'
  printf 'cd %q && ' "$PWD"
  if (($# == 1)); then printf 'bash -c %q' "$1"; else printf '%q ' "$@"; fi
  echo ' </dev/null'
  echo 'echo "$?" >/run/kernel-vm/status'
  echo 'sync'
  printf '%q poweroff -f\n' "$BUSYBOX"
} >"$RUN/io/job.sh"
chmod +x "$RUN/io/job.sh"

# systemd as PID 1: only kernel-vm.target (tools/kernel-vm/{*.target,*.service},
# installed by the init in the guest's /run/systemd/system); the host's
# fstab is not the guest's; console output stays terse.
SYSTEMD_APPEND="systemd.unit=kernel-vm.target fstab=no systemd.show_status=error systemd.log_level=warning systemd.firstboot=no"
INIT_APPEND=''
if [[ $INIT == systemd ]]; then
  INIT_APPEND=$SYSTEMD_APPEND
  cp "$HERE/kernel-vm/kernel-vm.target" "$HERE/kernel-vm/kernel-vm-job.service" "$RUN/io/"
fi

# --- boot ---------------------------------------------------------------------
KIMG=$KDIR/vmlinux
[ -f "$KIMG" ] || KIMG=$KDIR/vmlinuz
QEMU=(qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m "$MEM" -smp "$CPUS"
  -nodefaults -no-user-config -display none -no-reboot -serial stdio
  -kernel "$KIMG" -initrd "$RUN/initramfs.gz"
  -append "console=ttyS0 panic=-1 quiet loglevel=4 $INIT_APPEND ${VPNPT_KERNEL_APPEND:-}")
fs() { # fs TAG PATH ro|rw: a 9p share; qemu wants commas in a path doubled
  local ro=''
  [ "$3" = ro ] && ro=,readonly=on
  QEMU+=(-fsdev "local,id=$1,path=${2//,/,,},security_model=passthrough,multidevs=remap$ro"
    -device "virtio-9p-pci,fsdev=$1,mount_tag=$1")
}
fs vmroot / ro
fs kmods "$MODDIR" ro
fs share "$SHARE" rw
fs vmio "$RUN/io" rw
say "booting $(cat "$KDIR/package") ($KVER), $CPUS vCPU, $MEM MiB, timeout ${TIMEOUT}s"
start=$SECONDS
"${QEMU[@]}" </dev/null &
QPID=$!
timed_out=0
while kill -0 "$QPID" 2>/dev/null; do
  if ((SECONDS - start >= TIMEOUT)); then
    say "timeout after ${TIMEOUT}s, killing qemu (pid $QPID)"
    timed_out=1
    break
  fi
  sleep 1
done
if ((timed_out)); then exit 124; fi # cleanup kills qemu
qrc=0
wait "$QPID" || qrc=$?
QPID=''
[ -s "$RUN/io/status" ] || die "the guest stopped before the command ended (qemu exit $qrc)"
rc=$(cat "$RUN/io/status")
say "command exited $rc after $((SECONDS - start)) s in the VM"
exit "$rc"
