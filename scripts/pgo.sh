#!/usr/bin/env bash
# Builds a profile-guided (PGO) release binary of authstorm:
#
#     scripts/pgo.sh            # -> target/pgo/release/authstorm
#     scripts/pgo.sh --native   # the same, for this machine's CPU only
#
# 1. an instrumented build (target/pgo-gen) counts which branches and calls
#    the scan takes;
# 2. it analyzes simulated logs in every format `authstorm simulate` writes
#    (mostly combined and JSON lines, the formats that carry big archives),
#    plain and gzip, clean and with corrupt lines, with other seeds and
#    sizes than the benchmark's files;
# 3. llvm-profdata merges the counts, and the release build is made again
#    with them (target/pgo): LLVM lays out the hot paths straight and
#    inlines by measured calls instead of guesses.
#
# The profile steers code layout and inlining only, so the reports are the
# same: the script ends by checking that the PGO build writes reports
# byte-identical to the instrumented build's on every training log.
# With --native both builds also use every instruction this CPU has
# (`-Ctarget-cpu=native`: BMI, AVX2 and the like outside the hand-written
# SIMD kernels, which pick theirs at run time anyway); the binary may then
# not start on an older CPU, so it is for the machine that built it.
# Needs rustup's llvm-tools component, for an llvm-profdata that reads the
# counts of this rustc's LLVM; it is added when missing. Two cold release
# builds: about 20 minutes on 2 cores.
set -euo pipefail
cpu=
case "${1:-}" in
    "") ;;
    --native) cpu="-Ctarget-cpu=native" ;;
    *)
        echo "usage: scripts/pgo.sh [--native]" >&2
        exit 2
        ;;
esac
cd "$(dirname "$0")/.."
root=$PWD
gen=$root/target/pgo-gen
use=$root/target/pgo
raw=$gen/profiles
train=$gen/train

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=$sysroot/lib/rustlib/$host/bin/llvm-profdata
if [[ ! -x $profdata ]]; then
    if ! command -v rustup > /dev/null; then
        echo "pgo.sh: needs $profdata (the llvm-profdata of this rustc's LLVM): install rustup's llvm-tools component" >&2
        exit 1
    fi
    rustup component add llvm-tools
fi

rm -rf "$raw" "$train"
mkdir -p "$raw" "$train"
RUSTFLAGS="-Cprofile-generate=$raw $cpu" cargo build --release --locked --target-dir "$gen"
bin=$gen/release/authstorm

# The training runs. Seeds and sizes differ from bench.py's files, so the
# benchmark does not measure the very input the profile was taken on.
sim() { "$bin" simulate --seed 7 "$@"; }
sim --scenario storm --days 2 --lines 600000 --format combined -o "$train/storm.log"
sim --scenario two-storms --lines 200000 --format combined --gzip -o "$train/two.log.gz"
sim --scenario storm --days 2 --lines 300000 --format json -o "$train/storm.jsonl"
sim --scenario outage --lines 100000 --format logfmt -o "$train/outage.logfmt"
sim --scenario rotation --lines 100000 --format common -o "$train/rotation.log"
sim --scenario storm --lines 50000 --format combined --corrupt 0.02 -o "$train/corrupt.log"
analyze() { "$bin" analyze --no-progress --json /dev/null "$@" > /dev/null; }
logs=(storm.log two.log.gz storm.jsonl outage.logfmt rotation.log corrupt.log)
for f in "${logs[@]}"; do
    "$bin" analyze --no-progress --json "$train/$f.json" "$train/$f" > /dev/null
done
analyze -j1 "$train/storm.log"
analyze "$train/storm.log" "$train/storm.jsonl" "$train/two.log.gz"
analyze --since 2026-03-02T10:00:00Z "$train/storm.log"

"$profdata" merge -o "$gen/authstorm.profdata" "$raw"
RUSTFLAGS="-Cprofile-use=$gen/authstorm.profdata $cpu" cargo build --release --locked --target-dir "$use"
for f in "${logs[@]}"; do
    "$use/release/authstorm" analyze --no-progress --json "$train/$f.pgo.json" "$train/$f" > /dev/null
    cmp "$train/$f.json" "$train/$f.pgo.json"
done
echo "PGO build${cpu:+ for this CPU only}: $use/release/authstorm (reports identical to the instrumented build's on ${#logs[@]} logs)"
