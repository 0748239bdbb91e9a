#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Check that flatpak-builder reads the manifest without complaint and that it
# names the app, its command, the GNOME runtime that matches GTK 4.8 and
# libadwaita 1.2, and no more sandbox holes than the app needs.
# Usage: check-flatpak-manifest.py MANIFEST APP_ID COMMAND
import json
import shutil
import subprocess
import sys

EXPECTED_FINISH_ARGS = {
    "--share=network",              # sync
    "--share=ipc",                  # X11 shared memory
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",                 # GL rendering
    "--talk-name=org.freedesktop.secrets",  # the token in the keyring
}


def main():
    manifest_path, app_id, command = sys.argv[1:4]
    if shutil.which("flatpak-builder") is None:
        print("flatpak-builder is not installed (scripts/install-deps)")
        return 77
    run = subprocess.run(["flatpak-builder", "--show-manifest", manifest_path],
                         capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        print(f"flatpak-builder cannot read {manifest_path}")
        return 1
    if "Unknown property" in run.stderr:
        print(f"{manifest_path} has properties flatpak-builder does not know")
        return 1

    manifest = json.loads(run.stdout)
    errors = []

    def expect(key, value):
        if manifest.get(key) != value:
            errors.append(f"{key} is {manifest.get(key)!r}, expected {value!r}")

    expect("id", app_id)
    expect("command", command)
    expect("runtime", "org.gnome.Platform")
    expect("sdk", "org.gnome.Sdk")
    expect("runtime-version", "43")
    finish_args = set(manifest.get("finish-args", []))
    if finish_args != EXPECTED_FINISH_ARGS:
        errors.append("finish-args: unexpected %s, missing %s" % (
            sorted(finish_args - EXPECTED_FINISH_ARGS),
            sorted(EXPECTED_FINISH_ARGS - finish_args)))
    modules = manifest.get("modules", [])
    if not modules or modules[-1].get("name") != "tether" \
            or modules[-1].get("buildsystem") != "meson":
        errors.append("the last module must be tether, built with meson")
    # The runtime has these; building them again would only shadow it.
    for module in modules:
        if isinstance(module, dict) and module.get("name") in (
                "libsoup", "json-glib", "sqlite", "libsecret", "gtk", "libadwaita"):
            errors.append(f"module {module['name']} is in the GNOME 43 runtime already")

    for error in errors:
        print(f"{manifest_path}: {error}")
    if not errors:
        print(f"{manifest_path}: {app_id} runs {command} on org.gnome.Platform 43")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
