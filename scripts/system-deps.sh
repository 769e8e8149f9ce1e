#!/usr/bin/env bash
# Debian packages casebinder needs. `runtime` is the server's, and the Dockerfile's list too: Pango for WeasyPrint,
# libmagic for type sniffing, Tesseract with its English data for OCR (tesseract-ocr-<lang> adds a language), and
# fonts for rendered pages (DejaVu and Noto Sans Mono for Latin, Greek and Cyrillic;
# Noto for Arabic, Hebrew, Devanagari, Thai and the rest of the world's scripts, Noto CJK for Chinese, Japanese and
# Korean). `test_only` stays out of the image: poppler-utils for the tests that read pages back (pdffonts, pdftotext,
# pdftoppm), and Chromium, which the browser tests drive at /usr/bin/chromium (no test downloads a browser of its
# own). Installs only what is missing, and only where apt-get can.
set -euo pipefail
runtime=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libmagic1 tesseract-ocr tesseract-ocr-eng fonts-dejavu-core
  fonts-noto-core fonts-noto-mono fonts-noto-cjk)
test_only=(poppler-utils chromium)
missing=()
for pkg in "${runtime[@]}" "${test_only[@]}"; do
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
