#!/usr/bin/env bash
# Looks at the HTML report as a reader would: renders report.html of four
# simulated incidents (one storm, two storms, an outage, three normal days)
# in headless Chromium and saves screenshots of each, to be looked at.
#
#   scripts/screenshots.sh [OUT_DIR]   screenshots into OUT_DIR (default
#                                      target/screenshots)
#   scripts/screenshots.sh --docs      also the two-storm report's, reduced,
#                                      into docs/img/ (needs ImageMagick)
#
# Per case: CASE.png (the whole page), CASE-top.png (title, summary, event
# timeline and the timeline plot, as the page opens) and CASE-retries.png
# (the retries plot alone). Without Chromium (Debian: apt-get install
# chromium) it says so and renders nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

docs=0
out=target/screenshots
for a in "$@"; do
  case "$a" in
    --docs) docs=1 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) out=$a ;;
  esac
done

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "screenshots: no Chromium found (Debian: apt-get install chromium); nothing rendered" >&2
  exit 0
fi

cargo build --quiet --locked
bin=target/debug/authstorm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# shot HTML PNG HEIGHT: the page at 1280 pixels wide, HEIGHT high.
shot() {
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --force-device-scale-factor=1 --window-size="1280,$3" \
    --screenshot="$2" "file://$1" > /dev/null 2>&1
  [ -s "$2" ] || { echo "screenshots: Chromium wrote no $2" >&2; exit 1; }
}

# name, then the simulator's arguments
cases=(
  "storm|--scenario storm --lines 40000"
  "two-storms|--scenario two-storms --lines 80000"
  "outage|--scenario outage --lines 40000"
  "normal-days|--scenario normal --days 3 --lines 60000"
)
for c in "${cases[@]}"; do
  name=${c%%|*}
  # shellcheck disable=SC2086 # the arguments are words
  "$bin" simulate ${c#*|} -o "$work/$name.log"
  "$bin" report --no-progress --out "$work/$name" "$work/$name.log" > /dev/null
  html="$work/$name/report.html"
  shot "$html" "$out/$name.png" 6000
  shot "$html" "$out/$name-top.png" 1500
  # The retries plot alone: the page with everything else hidden.
  sed 's|</style>|body>*{display:none}body>h1,body>svg:last-of-type{display:block}</style>|' \
    "$html" > "$work/$name/retries.html"
  shot "$work/$name/retries.html" "$out/$name-retries.png" 1000
  if command -v convert > /dev/null; then
    for p in "$out/$name.png" "$out/$name-top.png" "$out/$name-retries.png"; do
      convert "$p" -trim +repage -bordercolor white -border 8 "$p"
    done
  fi
  echo "$out/$name.png $out/$name-top.png $out/$name-retries.png"
done

if [ "$docs" = 1 ]; then
  command -v convert > /dev/null || { echo "screenshots: --docs needs ImageMagick's convert" >&2; exit 1; }
  for part in top retries; do
    convert "$out/two-storms-$part.png" -resize 960x -colors 64 -strip "docs/img/two-storms-$part.png"
    echo "docs/img/two-storms-$part.png"
  done
fi
