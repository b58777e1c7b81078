#!/usr/bin/env bash
# Installs the Debian 12 packages cxr needs that are missing. As root it runs apt-get; otherwise it prints
# the one apt-get line to run and fails. Usage: scripts/install-deps.sh [build|test|demo|fixtures|fuzz|tsan|figures]
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg62-turbo-dev libexif-dev
      libcli11-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
      libcpp-httplib-dev  # cxr serve's HTTP server
      libopenmpi-dev openmpi-bin)  # MPI: `mpirun -np N cxr train` (docs/DISTRIBUTED.md); -DCXR_MPI=OFF builds without
case "$what" in
  learn) pkgs=(build-essential cmake libopenblas-dev libgtest-dev) ;;  # docs/LEARN.md: core, autograd, layers, examples
  test) pkgs+=(chromium chromium-driver python3-selenium) ;;  # the report and serve pages in headless Chromium
  fixtures) pkgs+=(python3-torch python3-torchvision python3-numpy) ;;
  fuzz) pkgs+=(clang libclang-rt-14-dev libomp-dev) ;;  # libFuzzer + ASan/UBSan runtimes, clang's OpenMP
  tsan) pkgs+=(clang libclang-rt-14-dev libomp-dev) ;;  # the TSan runtime, LLVM OpenMP with Archer (libarcher.so)
  figures) pkgs+=(graphviz) ;;       # docs/img/: `dot` renders write_dot's graphs (scripts/make_figures.sh)
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "cxr needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
