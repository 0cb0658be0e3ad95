#!/usr/bin/env bash
# Re-vendor jsPsych from the npm registry into this folder (run by hand when upgrading; needs node's npm).
#
#   bash src/preattentive/human/vendor/fetch.sh          # the pinned versions below
#
# Why vendored: `preattentive human export` inlines these files into one offline index.html (no CDN, no request
# leaves the page), and the package must build such a page without network access. What the script does:
#   1. `npm pack` each pinned package (tarballs are checked against the registry's integrity by npm);
#   2. copies the browser build (dist/index.browser.min.js) and jspsych.css;
#   3. strips the trailing `//# sourceMappingURL=https://unpkg.com/...` comment, the one remote URL a browser's
#      developer tools would fetch (nothing else in the files is changed);
#   4. writes VENDOR.json (versions, npm integrity, sha256 of each vendored file) and the MIT licence text.
# The npm tarballs carry no licence file; the text below is jsPsych's license.txt (MIT), whose copyright line
# covers the core and the plugins (one repository, jspsych/jsPsych). jspsych.css embeds the Open Sans web font
# (SIL Open Font License 1.1, via @fontsource/open-sans) as data: URIs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version  ->  vendored file name
PACKAGES=(
  "jspsych@8.3.0 jspsych.min.js"
  "@jspsych/plugin-instructions@2.1.0 plugin-instructions.min.js"
  "@jspsych/plugin-html-keyboard-response@2.2.0 plugin-html-keyboard-response.min.js"
  "@jspsych/plugin-survey-text@2.1.1 plugin-survey-text.min.js"
  "@jspsych/plugin-fullscreen@2.1.0 plugin-fullscreen.min.js"
)

entries=()
for line in "${PACKAGES[@]}"; do
  read -r spec file <<<"$line"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  tgz="$(ls -t "$work"/*.tgz | head -1)"
  mkdir -p "$work/x" && rm -rf "$work/x/package" && tar xzf "$tgz" -C "$work/x" && rm "$tgz"
  sed '/^\/\/# sourceMappingURL=/d' "$work/x/package/dist/index.browser.min.js" > "$here/$file"
  integrity="$(npm view "$spec" dist.integrity)"
  entries+=("{\"package\": \"${spec%@*}\", \"version\": \"${spec##*@}\", \"integrity\": \"$integrity\", \"file\": \"$file\", \"sha256\": \"$(sha256sum "$here/$file" | cut -d' ' -f1)\"}")
  if [[ "$spec" == jspsych@* ]]; then
    cp "$work/x/package/css/jspsych.css" "$here/jspsych.css"
    entries+=("{\"package\": \"jspsych\", \"version\": \"${spec##*@}\", \"integrity\": \"$integrity\", \"file\": \"jspsych.css\", \"sha256\": \"$(sha256sum "$here/jspsych.css" | cut -d' ' -f1)\"}")
  fi
done

{
  echo "{\"source\": \"npm registry (npm pack)\", \"license\": \"MIT\", \"files\": ["
  for i in "${!entries[@]}"; do
    sep=","; [[ $i -eq $((${#entries[@]} - 1)) ]] && sep=""
    echo "  ${entries[$i]}$sep"
  done
  echo "]}"
} > "$here/VENDOR.json"

cat > "$here/LICENSE-jspsych.txt" <<'LICENSE'
jsPsych (jspsych and the @jspsych/plugin-* packages vendored here), https://www.jspsych.org
de Leeuw, J. R., Gilbert, R. A., & Luchterhandt, B. (2023). jsPsych: Enabling an open-source collaborative
ecosystem of behavioral experiments. Journal of Open Source Software, 8(85), 5351.

The MIT License (MIT)

Copyright (c) 2014-2022 Joshua R. de Leeuw

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.

jspsych.css embeds the Open Sans font (Steve Matteson; SIL Open Font License 1.1) through @fontsource/open-sans.
LICENSE
echo "vendored into $here:"; ls -la "$here"
