#!/usr/bin/env bash
# Debian packages casebinder needs at run time: Pango for WeasyPrint, libmagic for type sniffing,
# DejaVu fonts for rendered pages. Installs only what is missing, and only where apt-get can.
set -euo pipefail
needed=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libmagic1 fonts-dejavu-core)
# The tests read bundle pages back the way a reader's tools do: pdftotext, pdftoppm and pdffonts.
needed+=(poppler-utils)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "missing system packages (${missing[*]}) and no apt-get: install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
