#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fail when a file with translatable strings is missing from po/POTFILES.in
# (its strings would never reach translators), or when POTFILES.in names a
# file that does not exist (xgettext would stop).
# Usage: check-potfiles.sh SOURCE_ROOT
set -eu
cd "$1"

listed=$(mktemp)
wanted=$(mktemp)
trap 'rm -f "$listed" "$wanted"' EXIT

grep -v -e '^#' -e '^[[:space:]]*$' po/POTFILES.in | sort -u > "$listed"

{
  # C: _("…"), N_("…"), C_("ctx", "…"), NC_(…) and the plural forms.
  find src -name '*.c' -o -name '*.h' | xargs grep -lE \
    '(^|[^A-Za-z0-9_])(N?C?_|g_dngettext|ngettext)[[:space:]]*\(' || true
  find ui -name '*.ui' | xargs grep -l 'translatable="yes"' || true
  ls data/*.desktop.in data/*.metainfo.xml.in data/*.gschema.xml 2>/dev/null || true
} | sort -u > "$wanted"

status=0
for f in $(comm -13 "$listed" "$wanted"); do
  echo "po/POTFILES.in: $f has translatable strings but is not listed"
  status=1
done
while read -r f; do
  if [ ! -f "$f" ]; then
    echo "po/POTFILES.in: $f does not exist"
    status=1
  fi
done < "$listed"
[ $status -eq 0 ] && echo "po/POTFILES.in lists all $(wc -l < "$wanted") files with translatable strings"
exit $status
