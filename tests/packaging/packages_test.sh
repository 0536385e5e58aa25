#!/bin/bash
# Builds the .deb and .rpm packages of a build tree with cpack and checks what
# a node would get: names, versions and dependencies; the file layout and its
# permissions, the same in both formats; the maintainer scripts; that the
# packaged (stripped) dcosd runs every example configuration with the packaged
# plugins; that the packaged unit passes systemd-analyze verify; and lintian.
# Prints lintian's report and the package sizes.
#
# usage: packages_test.sh BUILD_DIR
#
# Needs (Debian packages): cmake (cpack), dpkg-dev (dpkg-shlibdeps), rpm
# (rpmbuild, rpm), lintian, file, and systemd (systemd-analyze; that check is
# skipped without it). Works on the build tree as is: nothing is installed.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1/CPackConfig.cmake ]]; then
  echo "usage: $0 BUILD_DIR (a configured dcos build tree, with CPackConfig.cmake)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}

for tool in cpack:cmake dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev rpmbuild:rpm rpm:rpm lintian:lintian file:file; do
  command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} not found (Debian package ${tool##*:})"
done

# The values the packages must carry, as the build tree's CPack config has them.
cpack_var() {
  sed -n "s/^set($1 \"\\(.*\\)\")\$/\\1/p" "$build/CPackConfig.cmake"
}
version=$(cpack_var CPACK_PACKAGE_VERSION)
release=$(cpack_var CPACK_DEBIAN_PACKAGE_RELEASE)
[[ -n $version && -n $release ]] || die "no CPACK_PACKAGE_VERSION or CPACK_DEBIAN_PACKAGE_RELEASE in $build/CPackConfig.cmake"
deb_arch=$(dpkg --print-architecture)
rpm_arch=$(uname -m)

out=$(mktemp -d "${TMPDIR:-/tmp}/dcos-packages.XXXXXX")
trap 'rm -rf "$out"' EXIT

# cpack packs what the build made; make sure that is everything. Asked,
# not done: a build here would change binaries under the tests running
# beside this one.
if [[ -f $build/build.ninja ]]; then
  pending=$(cmake --build "$build" -- -n 2>&1 | grep -v "^ninja: no work to do" || true)
  [[ -z $pending ]] || die "the build in $build is not up to date (build it first: ./scripts/build.sh): $(head -3 <<<"$pending")"
fi
if ! (cd "$build" && cpack -G "DEB;RPM" -B "$out") >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log" >&2
  die "cpack -G \"DEB;RPM\" failed in $build"
fi
grep -E "CMake Warning|CPack(Deb|RPM)?:? ?Warning" "$out/cpack.log" && fail "cpack printed warnings (above)"

deb=$out/dcos_${version}-${release}_${deb_arch}.deb
devdeb=$out/dcos-dev_${version}-${release}_${deb_arch}.deb
jredeb=$out/dcos-jre_${version}-${release}_${deb_arch}.deb
imagedeb=$out/dcos-image_${version}-${release}_${deb_arch}.deb
rpm=$out/dcos-${version}-${release}.${rpm_arch}.rpm
devrpm=$out/dcos-dev-${version}-${release}.${rpm_arch}.rpm
jrerpm=$out/dcos-jre-${version}-${release}.${rpm_arch}.rpm
imagerpm=$out/dcos-image-${version}-${release}.${rpm_arch}.rpm
for f in "$deb" "$devdeb" "$jredeb" "$imagedeb" "$rpm" "$devrpm" "$jrerpm" "$imagerpm"; do
  [[ -f $f ]] || die "cpack did not make $(basename "$f"); it made: $(cd "$out" && echo *.deb *.rpm)"
done
[[ $(cd "$out" && ls *.deb *.rpm | wc -l) -eq 8 ]] || fail "expected 8 packages, cpack made: $(cd "$out" && echo *.deb *.rpm)"

# expect_line NAME TEXT REGEX: TEXT has a line matching the extended REGEX.
expect_line() {
  grep -Eq -- "$3" <<<"$2" || fail "$1: no line matching /$3/ in:
$2"
}
expect_no_line() {
  local hits
  hits=$(grep -E -- "$3" <<<"$2") && fail "$1: unexpected line(s) matching /$3/:
$hits"
  return 0
}

runtime_files=(
  usr/sbin/dcosd
  usr/bin/dcos
  usr/lib/dcos/plugins/role-master.so
  usr/lib/dcos/plugins/role-agent-private.so
  usr/lib/dcos/plugins/role-agent-public.so
  lib/systemd/system/dcosd.service
  lib/systemd/system/dcos-node-identity.service
  usr/lib/dcos/dcos-node-identity
  usr/lib/dcos/dcos-zookeeper-cds
  usr/share/dcos/examples/single-master/cluster.json
  usr/share/dcos/examples/single-master/node.json
  usr/share/dcos/examples/cluster/cluster.json
  usr/share/dcos/examples/cluster/node-master.json
  usr/share/doc/dcos/copyright
  usr/share/doc/dcos/changelog.Debian.gz
)
dev_files=(
  usr/include/dcos/plugin.h
  usr/include/dcos/plugin.hpp
  'usr/lib/(.+/)?cmake/dcos/dcosConfig\.cmake'
  'usr/lib/(.+/)?cmake/dcos/dcosConfigVersion\.cmake'
  'usr/lib/(.+/)?cmake/dcos/dcosPlugin\.cmake'
  usr/share/doc/dcos-dev/copyright
)

# --- .deb -------------------------------------------------------------------
check_deb_layout() {  # NAME LISTING: owners root, modes 0755 (dirs, programs) or 0644
  local bad
  bad=$(awk '$2 != "root/root" { print "owner " $2 ": " $NF }
             $1 ~ /^d/ && $1 != "drwxr-xr-x" { print "dir mode " $1 ": " $NF }
             $1 ~ /^-/ && $1 != "-rw-r--r--" && $1 != "-rwxr-xr-x" { print "file mode " $1 ": " $NF }' <<<"$2")
  [[ -z $bad ]] || fail "$1: bad owners or modes:
$bad"
}
check_md5sums() {  # DEB: the md5sums control file covers every regular file and matches it
  local root=$out/md5/$(basename "$1")
  mkdir -p "$root"
  dpkg-deb -x "$1" "$root"
  local sums
  sums=$(dpkg-deb -I "$1" md5sums 2>/dev/null) || { fail "$(basename "$1"): no md5sums control file"; return 0; }
  (cd "$root" && md5sum --quiet -c <<<"$sums") >/dev/null 2>&1 || fail "$(basename "$1"): md5sums do not match the contents"
  [[ $(wc -l <<<"$sums") -eq $(cd "$root" && find . -type f | wc -l) ]] || fail "$(basename "$1"): md5sums does not list every file"
}

# check_deb NAME DEB FILE...: DEB holds each FILE (a regex of its path), with
# the owners, modes and md5sums it must have; leaves its listing in $contents.
check_deb() {
  local name=$1 file=$2 f
  shift 2
  contents=$(dpkg-deb --contents "$file")
  for f in "$@"; do expect_line "$name" "$contents" " \./$f$"; done
  check_deb_layout "$name" "$contents"
  check_md5sums "$file"
}

info=$(dpkg-deb --info "$deb")
expect_line dcos.deb "$info" "^ Package: dcos$"
expect_line dcos.deb "$info" "^ Version: ${version//./\\.}-${release}$"
expect_line dcos.deb "$info" "^ Architecture: ${deb_arch}$"
expect_line dcos.deb "$info" "^ Section: admin$"
expect_line dcos.deb "$info" "^ Depends: .*libpoco"
expect_line dcos.deb "$info" "^ Depends: .*libsystemd"
for script in postinst prerm postrm; do
  # dpkg-deb --info marks executable control files with a '*'.
  expect_line dcos.deb "$info" "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script +#!/bin/sh"
done
check_deb dcos.deb "$deb" "${runtime_files[@]}"
expect_line dcos.deb "$contents" "^-rwxr-xr-x .* \./usr/sbin/dcosd$"

devinfo=$(dpkg-deb --info "$devdeb")
expect_line dcos-dev.deb "$devinfo" "^ Package: dcos-dev$"
expect_line dcos-dev.deb "$devinfo" "^ Version: ${version//./\\.}-${release}$"
expect_no_line dcos-dev.deb "$devinfo" "^ (Pre-)?Depends:"
check_deb dcos-dev.deb "$devdeb" "${dev_files[@]}"

jreinfo=$(dpkg-deb --info "$jredeb")
expect_line dcos-jre.deb "$jreinfo" "^ Package: dcos-jre$"
expect_line dcos-jre.deb "$jreinfo" "^ Provides: java5-runtime-headless$"
expect_line dcos-jre.deb "$jreinfo" "^ Depends: libc6"
check_deb dcos-jre.deb "$jredeb" usr/lib/dcos/jre/lib/modules usr/share/doc/dcos-jre/copyright
expect_line dcos-jre.deb "$contents" "^-rwxr-xr-x .* \./usr/lib/dcos/jre/bin/java$"
# java.desktop's native half (X11, fonts, images) is left out.
expect_no_line dcos-jre.deb "$contents" "lib(awt|fontmanager|splashscreen|javajpeg)"

imageinfo=$(dpkg-deb --info "$imagedeb")
expect_line dcos-image.deb "$imageinfo" "^ Package: dcos-image$"
expect_line dcos-image.deb "$imageinfo" "^ Depends: .*dcos \(= ${version//./\.}-${release}\).*mmdebstrap"
expect_line dcos-image.deb "$imageinfo" "^ Depends: .*libpoco"
check_deb dcos-image.deb "$imagedeb" usr/bin/dcos-image usr/share/man/man1/dcos-image.1.gz \
  usr/share/doc/dcos-image/copyright

# --- the packaged files at work ---------------------------------------------
root=$out/md5/$(basename "$deb")
dcosd=$root/usr/sbin/dcosd
plugins=$root/usr/lib/dcos/plugins
for f in "$dcosd" "$plugins"/*.so; do
  grep -q ", stripped" <<<"$(file -b "$f")" || fail "not stripped: ${f#$root}: $(file -b "$f")"
done
grep -q "^dcosd $version " <<<"$("$dcosd" --version)" || fail "packaged dcosd --version: $("$dcosd" --version 2>&1)"
# The packaged dcosd's own default must be where the package puts the plugins,
# or `dcosd --check` on a node fails. It comes from CMAKE_INSTALL_PREFIX.
grep -q "(default /usr/lib/dcos/plugins)" <<<"$("$dcosd" --help)" ||
  fail "packaged dcosd defaults to the wrong plugin dir ($("$dcosd" --help | grep -o 'default /[^)]*plugins')," \
    "not /usr/lib/dcos/plugins): configure the tree with -DCMAKE_INSTALL_PREFIX=/usr"
# The packaged dcos-image runs, stripped, and its man page is the page.
image_bin=$out/md5/$(basename "$imagedeb")/usr/bin/dcos-image
grep -q ", stripped" <<<"$(file -b "$image_bin")" || fail "dcos-image not stripped"
grep -q "^dcos-image $version$" <<<"$("$image_bin" --version)" || fail "packaged dcos-image --version: $("$image_bin" --version 2>&1)"
grep -q "^Usage: dcos-image build" <<<"$("$image_bin" --help)" || fail "packaged dcos-image --help"
zcat "$out/md5/$(basename "$imagedeb")/usr/share/man/man1/dcos-image.1.gz" | grep -q '^\.TH DCOS-IMAGE 1' ||
  fail "dcos-image.1.gz is not dcos-image's man page"
# The packaged runtime runs, stripped, with the modules ZooKeeper's server
# needs (the master image boots it: tests/image).
jre=$out/md5/$(basename "$jredeb")/usr/lib/dcos/jre
grep -q ", stripped" <<<"$(file -b "$jre/lib/server/libjvm.so")" || fail "dcos-jre: libjvm.so not stripped"
jre_modules=$("$jre/bin/java" --list-modules 2>&1) || fail "dcos-jre: java --list-modules failed: $jre_modules"
for m in java.base java.desktop java.management java.naming java.security.sasl jdk.unsupported; do
  expect_line dcos-jre "$jre_modules" "^$m@17"
done
expect_no_line dcos-jre "$jre_modules" "^(jdk\.compiler|java\.compiler|jdk\.jshell)@"
# Every example configuration passes --check with the stripped plugins.
examples=$root/usr/share/dcos/examples
check_config() {  # NAME CONFIG_DIR
  local log
  if ! log=$("$dcosd" --check --config-dir "$2" --plugin-dir "$plugins" 2>&1); then
    fail "packaged dcosd --check $1 failed:
$log"
  elif ! grep -q "^check passed$" <<<"$log"; then
    fail "packaged dcosd --check $1: no 'check passed' in:
$log"
  fi
}
check_config single-master "$examples/single-master"
for node in "$examples"/cluster/node-*.json; do
  name=$(basename "$node" .json)
  mkdir -p "$out/configs/$name"
  cp "$examples/cluster/cluster.json" "$out/configs/$name/"
  cp "$node" "$out/configs/$name/node.json"
  check_config "cluster/$name" "$out/configs/$name"
done
# The unit starts the packaged binary with the packaged plugins.
unit=$root/lib/systemd/system/dcosd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r exe args <<<"$exec_start"
[[ -x $root$exe ]] || fail "dcosd.service: ExecStart=$exec_start: $exe is not in the package"
if [[ $args =~ --plugin-dir=?[[:space:]]*([^[:space:]]+) ]] && [[ ! -d $root${BASH_REMATCH[1]} ]]; then
  fail "dcosd.service: ExecStart=$exec_start: ${BASH_REMATCH[1]} is not in the package"
fi
if command -v systemd-analyze >/dev/null; then
  # verify needs the ExecStart binary to exist: point it at the extracted one.
  mkdir -p "$out/unit"
  sed "s|^ExecStart=$exe|ExecStart=$dcosd|" "$unit" >"$out/unit/dcosd.service"
  verify=$(systemd-analyze verify --man=no "$out/unit/dcosd.service" 2>&1) || fail "systemd-analyze verify dcosd.service failed:
$verify"
  # It reports unknown or bad settings without failing.
  expect_no_line "systemd-analyze verify dcosd.service" "$verify" "dcosd\.service"
else
  echo "note: systemd-analyze not found; dcosd.service not verified"
fi

# --- .rpm -------------------------------------------------------------------
rpm_layout() {  # RPM: "mode owner/group path" for every file
  rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$1"
}
deb_files() {  # the regular files and symlinks of a .deb, as absolute paths
  dpkg-deb --contents "$1" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort
}
rpm_files() {
  rpm_layout "$1" | awk '$1 !~ /^d/ { print $3 }' | sort
}
check_rpm() {  # RPM NAME DEB LABEL...
  local file=$1 name=$2 debfile=$3
  local label
  label=$(basename "$file")
  local qi
  qi=$(rpm -qpi "$file")
  expect_line "$label" "$qi" "^Name +: $name$"
  expect_line "$label" "$qi" "^Version +: ${version//./\\.}$"
  expect_line "$label" "$qi" "^Release +: ${release}$"
  expect_line "$label" "$qi" "^License +: Apache-2\.0$"
  expect_no_line "$label" "$qi" "^Relocations +: /"
  local layout
  layout=$(rpm_layout "$file")
  local bad
  bad=$(awk '$2 != "root/root" { print "owner " $2 ": " $3 }
             $1 ~ /^d/ && $1 != "drwxr-xr-x" { print "dir mode " $1 ": " $3 }
             $1 ~ /^-/ && $1 != "-rw-r--r--" && $1 != "-rwxr-xr-x" { print "file mode " $1 ": " $3 }' <<<"$layout")
  [[ -z $bad ]] || fail "$label: bad owners or modes:
$bad"
  # Directories every system has belong to their own packages, not to dcos.
  expect_no_line "$label" "$layout" "^d.* (/lib|/lib/systemd|/lib/systemd/system|/usr|/usr/sbin|/usr/lib|/usr/lib/[^/]+-linux-[^/]+|/usr/lib/([^/]+-linux-[^/]+/)?cmake|/usr/include|/usr/share|/usr/share/doc|/usr/lib/\.build-id.*)$"
  # The same files as the .deb.
  local only
  only=$(diff <(deb_files "$debfile") <(rpm_files "$file")) ||
    fail "$label and $(basename "$debfile") hold different files (< deb only, > rpm only):
$only"
}
check_rpm "$rpm" dcos "$deb"
check_rpm "$devrpm" dcos-dev "$devdeb"
check_rpm "$jrerpm" dcos-jre "$jredeb"
check_rpm "$imagerpm" dcos-image "$imagedeb"
requires=$(rpm -qpR "$rpm")
expect_line "$(basename "$rpm")" "$requires" "^libPoco"
expect_line "$(basename "$rpm")" "$requires" "^libsystemd"
scripts=$(rpm -qp --scripts "$rpm")
for s in postinstall preuninstall postuninstall; do
  expect_line "$(basename "$rpm")" "$scripts" "^$s scriptlet"
done
list=$(rpm -qpl "$rpm")
for f in "${runtime_files[@]}"; do expect_line "$(basename "$rpm")" "$list" "^/$f$"; done
devlist=$(rpm -qpl "$devrpm")
for f in "${dev_files[@]}"; do expect_line "$(basename "$devrpm")" "$devlist" "^/$f$"; done
# Headers and CMake files need nothing installed (rpmlib() is rpm's own).
devrequires=$(rpm -qpR "$devrpm" | grep -v "^rpmlib(" || true)
[[ -z $devrequires ]] || fail "$(basename "$devrpm") requires more than rpm itself:
$devrequires"

# --- lintian ----------------------------------------------------------------
echo "--- lintian $(basename "$deb") $(basename "$devdeb") $(basename "$jredeb") $(basename "$imagedeb")"
lintian_out=$(lintian "$deb" "$devdeb" "$jredeb" "$imagedeb" 2>&1) || true
echo "$lintian_out"
errors=$(grep -E "^E: " <<<"$lintian_out" || true)
warnings=$(grep -E "^W: " <<<"$lintian_out" || true)
[[ -z $errors ]] || fail "lintian reports errors:
$errors"
echo "lintian: $(grep -c . <<<"$errors" || true) error(s), $(grep -c . <<<"$warnings" || true) warning(s)"
[[ -z $warnings ]] || sed 's/^/  /' <<<"$warnings"

# --- sizes ------------------------------------------------------------------
echo "--- package sizes (bytes)"
for f in "$deb" "$devdeb" "$jredeb" "$imagedeb" "$rpm" "$devrpm" "$jrerpm" "$imagerpm"; do
  printf "  %-34s %9d\n" "$(basename "$f")" "$(du -b "$f" | cut -f1)"
done
printf "  %-34s %9d\n" "dcos installed (Installed-Size)" \
  "$(($(dpkg-deb --field "$deb" Installed-Size) * 1024))"
printf "  %-34s %9d\n" "dcos-dev installed (Installed-Size)" \
  "$(($(dpkg-deb --field "$devdeb" Installed-Size) * 1024))"
printf "  %-34s %9d\n" "dcos-jre installed (Installed-Size)" \
  "$(($(dpkg-deb --field "$jredeb" Installed-Size) * 1024))"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all package checks passed"
