#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Every translation in LINGUAS compiles with msgfmt --check; the languages
# given after the po folder must also be complete: no untranslated and no
# fuzzy messages (after `ninja tether-update-po`, new strings show up here).
# Usage: check-po.sh PO_DIR [COMPLETE_LANGUAGE…]
set -eu
po_dir=$1; shift
status=0

for lang in $(grep -v '^#' "$po_dir/LINGUAS"); do
  if ! msgfmt --check -o /dev/null "$po_dir/$lang.po"; then
    echo "$lang.po: msgfmt --check failed"
    status=1
  fi
done

for lang in "$@"; do
  po="$po_dir/$lang.po"
  # "12 translated messages, 1 fuzzy translation, 2 untranslated messages."
  stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$po" 2>&1)
  case $stats in
    *fuzzy*|*untranslated*)
      echo "$lang.po is incomplete: $stats"
      { msgattrib --only-fuzzy --no-obsolete "$po"; msgattrib --untranslated --no-obsolete "$po"; } |
        grep -A1 '^msgid ' | grep -v -e '^msgid ""$' -e '^--$' | head -40
      status=1 ;;
    *)
      echo "$lang.po: $stats" ;;
  esac
done
exit $status
