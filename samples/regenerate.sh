#!/usr/bin/env bash
# Regenerates the bundled sample incident (deterministic: same bytes each time).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- simulate --scenario storm --seed 7 --days 2 --lines 150000 \
  --gzip -o samples/incident/access.log.gz --truth samples/incident.truth.json
