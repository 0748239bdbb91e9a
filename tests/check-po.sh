#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Every translation in LINGUAS compiles with msgfmt --check and translates
# only strings the sources still have: a msgid edited by hand (or left from
# an old string) never matches, so its translation would never show. The
# languages given after the po folder must also be complete: every string
# of the sources translated, none fuzzy (after `ninja tether-update-po`,
# new strings show up here).
# Usage: check-po.sh PO_DIR [COMPLETE_LANGUAGE…]
set -eu
po_dir=$1; shift
status=0

# The template as the sources make it now (po/tether.pot is built, not
# kept), with the keywords of meson's i18n.gettext(preset: 'glib').
template=$(mktemp --suffix=.pot)
trap 'rm -f "$template"' EXIT
xgettext --package-name=tether --directory="$po_dir/.." --files-from="$po_dir/POTFILES.in" \
  --output="$template" --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3

# msgcmp DEF REF: every message of REF has one in DEF.
for lang in $(grep -v '^#' "$po_dir/LINGUAS"); do
  if ! msgfmt --check -o /dev/null "$po_dir/$lang.po"; then
    echo "$lang.po: msgfmt --check failed"
    status=1
  fi
  if ! msgcmp --use-untranslated "$template" "$po_dir/$lang.po"; then
    echo "$lang.po translates strings the sources do not have (above): fix its msgids"
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
  if ! msgcmp "$po" "$template"; then
    echo "$lang.po lacks strings of the sources (above): run ninja tether-update-po and translate them"
    status=1
  fi
done
exit $status
