#!/usr/bin/env bash
# Java 17 or newer for the Scale part's Spark (make install runs this). Uses JAVA_HOME's java,
# else the one on the PATH; where neither is 17+, installs Debian's openjdk-17-jre-headless
# (as root, or through sudo). Anywhere else it says what to install and carries on: only
# spark-als needs Java, and it says so itself when it is missing.
set -uo pipefail
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
major() {
  "$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' |
    awk '{ print ($1 == 1 ? $2 : $1) }'
}
found=$(command -v "$java_bin" >/dev/null && major)
if [ -n "$found" ] && [ "$found" -ge 17 ]; then
  exit 0
fi
if command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "installing Java 17 for Spark (openjdk-17-jre-headless)"
  if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null; then
    exit 0
  fi
fi
echo "warning: no Java 17+ found (${found:+Java $found}${found:-none}); spark-als will not" \
     "run until you install one (e.g. Temurin 17) and set JAVA_HOME" >&2
exit 0
