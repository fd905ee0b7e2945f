#!/usr/bin/env bash
# `make bench`: runs every benchmark and writes docs/benchmarks.md — the machine, the date
# and each script's figures, each next to its reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
mkdir -p docs
tmp=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Every figure is compared with a"
  echo "reference measured in the same run on the same machine, because shared machines are noisy:"
  echo "read the ratios, not the absolute rates."
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr),"
  echo "load average at start $(cut -d' ' -f1-3 /proc/loadavg); $(swift --version 2>/dev/null | head -1)."
  for script in mail forms sender preflight data feedback webhooks postgres; do
    echo
    echo "## bench/$script.sh"
    echo
    echo '```'
    bench/$script.sh 2>&1 | tee /dev/stderr
    echo '```'
  done
} > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
