#!/usr/bin/env bash
# Installs what dendrite needs to build, test and demo on Debian 12 (as root, or with sudo).
# Does nothing when everything is already there. With --demo, only what the extension, dendritectl and the
# demo need (scripts/demo.sh): the test tools (chromium, clang, GoogleTest) are most of the download.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-client-15 libpq-dev
  libeigen3-dev nlohmann-json3-dev libxgboost-dev cmake g++ make pkg-config
)
if [ "${1:-}" != "--demo" ]; then
  packages+=(
    xz-utils
    postgresql-15-cron  # scheduled retraining (tests/e2e/schedule.sh)
    chromium            # renders dendrite.report in tests/e2e/report.sh
    googletest libgtest-dev
    clang libclang-rt-14-dev  # libFuzzer for scripts/fuzz_parsers.sh
    clang-format              # the C++ style (.clang-format), checked by scripts/test.sh
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "dendrite: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
