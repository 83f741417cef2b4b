#!/bin/sh
# Install Hindsight on a Debian box or at a force, from a checkout (built here if needed) or again from the
# installed copy (/opt/hindsight/scripts/install.sh). Idempotent: a second run changes nothing that is
# already right, and says so. Run as root.
#
#   scripts/install.sh [--box|--force] [--prefix DIR] [--no-packages] [--no-build]
#   scripts/install.sh [--box|--force] --uninstall [--purge]
#
# Install: system packages, npm ci, build and models (scripts/setup.mjs), the system user, its folders,
# the program in the prefix, a starting config (never over an existing one), the systemd units (enabled
# and started when systemd runs), `hindsight` (and `hindsight-force`) in /usr/local/bin, then the web
# app's first-run setup code and the next steps. --uninstall removes the units, the commands and the
# program; the evidence, the database and the config stay unless --purge.
set -eu

ME=install
USAGE="usage: scripts/install.sh [--box|--force] [--prefix DIR] [--no-packages] [--no-build] [--uninstall [--purge]]"
SRC=$(cd "$(dirname "$0")/.." && pwd)
ARGS="$*"

usage_error() {
  printf '%s: %s\n  what to do: %s\n%s\n' "$ME" "$1" "$2" "$USAGE" >&2
  exit 2
}
fail() {
  printf '%s: %s\n' "$ME" "$1" >&2
  [ -n "${2:-}" ] && printf '  what to do: %s\n' "$2" >&2
  exit 1
}
CHANGES=0
changed() {
  CHANGES=$((CHANGES + 1))
  printf '%s: %s\n' "$ME" "$1"
}
ok() { printf '%s: %s\n' "$ME" "$1"; }

ROLE=
# run from an installed copy (no sources beside it), the default prefix is that copy
PREFIX=$([ -d "$SRC/daemon/src" ] && echo /opt/hindsight || echo "$SRC")
UNINSTALL=0
PURGE=0
PACKAGES=1
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --box | --force)
      [ -n "$ROLE" ] && usage_error "give one of --box and --force, not both" "a machine is either a shop's box (--box, the default) or the force's side (--force)"
      ROLE=${1#--}
      ;;
    --prefix)
      [ $# -ge 2 ] || usage_error "--prefix needs a folder" "e.g. --prefix /opt/hindsight"
      PREFIX=$2
      shift
      ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --no-packages) PACKAGES=0 ;;
    --no-build) BUILD=0 ;;
    -h | --help)
      printf '%s\n' "$USAGE"
      exit 0
      ;;
    *) usage_error "unknown option: $1" "see the options below" ;;
  esac
  shift
done
ROLE=${ROLE:-box}
case "$PREFIX" in
  /*) PREFIX=${PREFIX%/} ;;
  *) usage_error "--prefix must be an absolute folder, not \"$PREFIX\"" "e.g. --prefix /opt/hindsight" ;;
esac
[ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ] && usage_error "--purge goes with --uninstall" "run: scripts/install.sh --uninstall --purge"
[ "$(id -u)" = 0 ] || usage_error "must run as root (it creates a system user, folders and units)" "run: sudo $0 $ARGS"

UNITS=/etc/systemd/system
BIN=/usr/local/bin
NODE=/usr/bin/node
if [ "$ROLE" = box ]; then
  USER_NAME=hindsight
  USER_HOME=/var/lib/hindsight
  SERVICES="hindsight.service"
  COMMANDS="hindsight"
  CONFIG_DIR=/etc/hindsight
  CONFIG=/etc/hindsight/config.yaml
else
  USER_NAME=hindsight-force
  USER_HOME=/srv/hindsight-force
  SERVICES="hindsight-force.service hindsight-force-console.service"
  COMMANDS="hindsight hindsight-force"
  CONFIG_DIR=
  CONFIG=/srv/hindsight-force/force.yaml
fi
OTHER_SERVICES=$([ "$ROLE" = box ] && echo "hindsight-force.service hindsight-force-console.service" || echo "hindsight.service")

# systemd as the service manager of this machine (not in a container or an image build)
systemd_running() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------------------------------------- uninstall
if [ "$UNINSTALL" = 1 ]; then
  for s in $SERVICES; do
    if [ -f "$UNITS/$s" ] || [ -d "$UNITS/$s.d" ]; then
      systemd_running && systemctl disable --now "$s" >/dev/null 2>&1 || true
      KEPT_PATHS=$(sed -n 's/^ReadWritePaths=-\{0,1\}//p' "$UNITS/$s.d/paths.conf" 2>/dev/null || true)
      rm -rf "${UNITS:?}/$s" "${UNITS:?}/$s.d"
      changed "removed the unit $s"
    fi
  done
  systemd_running && systemctl daemon-reload
  other=0
  for s in $OTHER_SERVICES; do [ -f "$UNITS/$s" ] && other=1; done
  for c in $COMMANDS; do
    # the other role still installed keeps `hindsight` and the program
    [ "$other" = 1 ] && [ "$c" = hindsight ] && continue
    [ -e "$BIN/$c" ] && rm -f "$BIN/$c" && changed "removed $BIN/$c"
  done
  if [ "$other" = 0 ] && [ -d "$PREFIX" ]; then
    rm -rf "$PREFIX"
    changed "removed the program in $PREFIX"
  fi
  if [ "$PURGE" = 1 ]; then
    for d in $USER_HOME $CONFIG_DIR; do
      [ -e "$d" ] && rm -rf "$d" && changed "purged $d"
    done
    for p in ${KEPT_PATHS:-}; do ok "left $p (a folder of the config outside the state folder): remove it by hand"; done
    if getent passwd "$USER_NAME" >/dev/null; then
      if userdel "$USER_NAME"; then
        changed "removed the user $USER_NAME"
      else
        ok "could not remove the user $USER_NAME (see above; a process of it still running?): userdel $USER_NAME"
      fi
    fi
    getent group "$USER_NAME" >/dev/null && groupdel "$USER_NAME" 2>/dev/null || true
  else
    ok "kept $USER_HOME (evidence, database, keys)${CONFIG_DIR:+ and $CONFIG_DIR}, and the user $USER_NAME; --uninstall --purge removes them"
  fi
  [ "$CHANGES" = 0 ] && ok "nothing to remove: Hindsight ($ROLE) is not installed"
  exit 0
fi

# ------------------------------------------------------------------------------------------------ install
[ -x "$NODE" ] || fail "Node.js is not at $NODE (the units run it from there)" "install Node.js 20 or newer: apt-get install nodejs"
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "Node.js $("$NODE" --version) is too old" "install Node.js 20 or newer (22 recommended)"

# 1. packages, modules, build, models: scripts/setup.mjs does each only when needed
if [ "$PACKAGES" = 1 ] && [ "$BUILD" = 1 ]; then
  "$NODE" "$SRC/scripts/setup.mjs" --runtime --quiet
elif [ "$PACKAGES" = 1 ]; then
  "$NODE" "$SRC/scripts/setup.mjs" --runtime --packages-only --quiet
elif [ "$BUILD" = 1 ]; then
  "$NODE" "$SRC/scripts/setup.mjs" --no-packages --quiet
fi
command -v rsync >/dev/null || fail "rsync is missing (the program is copied with it)" "apt-get install rsync, or run without --no-packages"
for f in daemon/dist/cli/main.js daemon/dist/force/main.js node_modules/.package-lock.json; do
  [ -e "$SRC/$f" ] || fail "$SRC is not built ($f is missing)" "run without --no-build (it runs npm ci and the build)"
done
if [ "$ROLE" = box ]; then
  "$NODE" "$SRC/daemon/dist/cli/main.js" models verify --dir "$SRC/models" >/dev/null 2>&1 ||
    fail "the models in $SRC/models are missing or do not match their SHA-256" "run without --no-build (it fetches them), or: node daemon/dist/cli/main.js models fetch"
fi

# 2. the system user (systemd-sysusers from the shipped file where there is one)
if getent passwd "$USER_NAME" >/dev/null; then
  ok "user $USER_NAME: present"
else
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers "$SRC/systemd/$USER_NAME.sysusers.conf"
  else
    useradd --system --user-group --home-dir "$USER_HOME" --no-create-home --shell /usr/sbin/nologin --comment "Hindsight" "$USER_NAME"
  fi
  changed "user $USER_NAME: created"
fi

# 3. folders: owner, group, mode
folder() { # DIR OWNER:GROUP MODE
  if [ ! -d "$1" ]; then
    install -d -o "${2%:*}" -g "${2#*:}" -m "$3" "$1"
    changed "folder $1: made ($2, $3)"
  elif [ "$(stat -c '%U:%G %a' "$1")" != "$2 ${3#0}" ]; then
    chown "$2" "$1"
    chmod "$3" "$1"
    changed "folder $1: set to $2, $3"
  fi
}
folder "$USER_HOME" "$USER_NAME:$USER_NAME" "$([ "$ROLE" = box ] && echo 0750 || echo 0700)"
[ -n "$CONFIG_DIR" ] && folder "$CONFIG_DIR" "root:$USER_NAME" 0750

# 4. the program: the built tree, production modules only (dev-only packages as package-lock.json marks them)
EXCLUDE=$(mktemp)
NOTE=$(mktemp)
trap 'rm -f "$EXCLUDE" "$NOTE"' EXIT
"$NODE" -e '
  const lock = require(process.argv[1]);
  for (const [p, v] of Object.entries(lock.packages)) if (p && v.dev) console.log("/" + p.replace(/^node_modules\//, "") + "/");
' "$SRC/package-lock.json" >"$EXCLUDE"
# and no hidden folder (.bin links to dev tools; the test runner's caches)
echo "/.*/" >>"$EXCLUDE"
mkdir -p "$PREFIX"
copy() { # SRC DEST [rsync options]: prints what it changed
  s=$1 d=$2
  shift 2
  rsync -rlt --delete --delete-excluded --chmod=go-w,a+rX --itemize-changes "$@" "$s" "$d"
}
itemized=$(
  for item in package.json package-lock.json README.md config systemd models; do copy "$SRC/$item" "$PREFIX/"; done
  mkdir -p "$PREFIX/scripts"
  # the compiled code and the web apps' files (daemon/web, web-shared, force-web), not the sources
  copy "$SRC/daemon" "$PREFIX/" --exclude=/daemon/src/
  copy "$SRC/scripts/install.sh" "$PREFIX/scripts/"
  copy "$SRC/node_modules/" "$PREFIX/node_modules/" --exclude-from="$EXCLUDE"
)
if [ -n "$itemized" ]; then
  n=$(printf '%s\n' "$itemized" | wc -l)
  changed "program: copied to $PREFIX ($n files and folders new or changed)"
  [ "$n" -le 10 ] && printf '%s\n' "$itemized" | sed 's/^/  /'
else
  ok "program in $PREFIX: up to date"
fi
CLI="$PREFIX/daemon/dist/cli/main.js"

# as the daemon's user: the files it makes stay its own
as_user() { runuser -u "$USER_NAME" -- "$@"; }

# 5. the starting config, only where there is none
if [ "$ROLE" = box ]; then
  if [ -e "$CONFIG" ]; then
    ok "config $CONFIG: kept (never overwritten)"
  else
    tmp="$CONFIG.new"
    awk '{ print } /^  state_dir: / { print "  runtime_dir: /run/hindsight   # the unit'"'"'s RuntimeDirectory: the control socket and its token" }' \
      "$SRC/config/hindsight.example.yaml" >"$tmp"
    chown "root:$USER_NAME" "$tmp"
    chmod 0640 "$tmp"
    as_user "$NODE" "$CLI" config check "$tmp" >/dev/null || fail "the starting config does not check (a bug: $SRC/config/hindsight.example.yaml)"
    mv "$tmp" "$CONFIG"
    changed "config $CONFIG: written from config/hindsight.example.yaml (edit device and cameras.networks)"
  fi
fi

# 6. commands on the PATH: as the daemon's user when root calls them (`hindsight system` stays root's)
command_text() { # NAME ENTRY
  cat <<EOF
#!/bin/sh
# Installed by $PREFIX/scripts/install.sh. Called by root, it runs as $USER_NAME so the files it makes
# stay the daemon's ('hindsight system ...' writes systemd files and stays root's).
if [ "\$(id -u)" = 0 ] && [ "\${1:-}" != system ]; then
  exec runuser -u $USER_NAME -- $NODE $PREFIX/daemon/dist/$2 "\$@"
fi
exec $NODE $PREFIX/daemon/dist/$2 "\$@"
EOF
}
# put_file WHAT FILE MODE TEXT: writes FILE (through a new name, then renamed) only when its text differs;
# returns 1 when it was already right
put_file() {
  if [ -f "$2" ] && [ "$(cat "$2")" = "$4" ]; then
    ok "$1 $2: up to date"
    return 1
  fi
  printf '%s\n' "$4" >"$2.new"
  chmod "$3" "$2.new"
  mv "$2.new" "$2"
  changed "$1 $2: installed"
}
for c in $COMMANDS; do
  entry=$([ "$c" = hindsight ] && echo cli/main.js || echo force/main.js)
  put_file command "$BIN/$c" 0755 "$(command_text "$c" "$entry")" || true
done

# 7. units (paths rewritten for another prefix), and for the box the drop-in that follows its paths.*
UNITS_CHANGED=0
for s in $SERVICES; do
  put_file unit "$UNITS/$s" 0644 "$(sed "s#/opt/hindsight/#$PREFIX/#g" "$SRC/systemd/$s")" && UNITS_CHANGED=1
done
if [ "$ROLE" = box ]; then
  out=$("$NODE" "$CLI" system unit-paths --write --config "$CONFIG" --drop-in "$UNITS/hindsight.service.d/paths.conf" 2>/dev/null) ||
    fail "the unit drop-in for the folders of $CONFIG could not be written" "see why: $NODE $CLI system unit-paths --write --config $CONFIG"
  case "$out" in
    unchanged:*) ok "unit drop-in $UNITS/hindsight.service.d/paths.conf: up to date" ;;
    *)
      UNITS_CHANGED=1
      changed "unit drop-in: $(printf '%s' "$out" | tr '\n' ' ')"
      ;;
  esac
fi

# 8. systemd: enable and start (the force's services start once `hindsight-force keygen` made force.yaml)
if systemd_running; then
  [ "$UNITS_CHANGED" = 1 ] && systemctl daemon-reload
  for s in $SERVICES; do
    if ! systemctl is-enabled --quiet "$s"; then
      systemctl enable --quiet "$s"
      changed "service $s: enabled"
    fi
    if [ -e "$CONFIG" ] && ! systemctl is-active --quiet "$s"; then
      systemctl start "$s" || fail "$s did not start" "see why: journalctl -u $s -o cat; fix it, then run this again"
      changed "service $s: started"
    elif [ -e "$CONFIG" ] && { [ "$UNITS_CHANGED" = 1 ] || [ -n "$itemized" ]; }; then
      systemctl try-restart "$s" || fail "$s did not restart" "see why: journalctl -u $s -o cat; fix it, then run this again"
      changed "service $s: restarted (new program or unit)"
    fi
  done
else
  ok "systemd is not running here (a container or an image build): units installed, not enabled; on the running system: systemctl enable --now $SERVICES"
fi

# 9. the first-run setup code of the box's web app, and what to do next
if [ "$ROLE" = box ]; then
  code=
  # under systemd the daemon makes the code at its first start: give it a moment
  tries=$(systemd_running && echo 30 || echo 1)
  while [ "$tries" -gt 0 ]; do
    code=$(as_user "$NODE" "$CLI" web setup-code --config "$CONFIG" 2>"$NOTE") && break
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] && sleep 1
  done
  if [ -n "$code" ]; then
    printf '\nFirst-run setup code of the web app: %s\n  %s\n' "$code" "$(cat "$NOTE")"
  elif as_user "$NODE" "$CLI" web setup-code --config "$CONFIG" 2>&1 | grep -q 'already has a manager'; then
    printf '\nThe web app already has a manager (the setup code is used up).\n'
  else
    printf '\nThe web app'"'"'s setup code is made at the daemon'"'"'s first start; then: sudo hindsight web setup-code\n'
  fi
  cat <<EOF

Next:
  1. edit $CONFIG (device.id and store, cameras.networks), then: sudo hindsight config check $CONFIG
  2. sudo hindsight doctor
  3. sudo systemctl restart hindsight; logs: journalctl -u hindsight -o cat
  4. cameras: sudo hindsight camera add ...; enrollment: sudo hindsight enroll BUNDLE
  after changing paths.* in the config: sudo hindsight system unit-paths --write && sudo systemctl daemon-reload
EOF
else
  cat <<EOF

Next:
  1. sudo hindsight-force keygen --dir $USER_HOME --broker-url mqtts://BROKER:8883 --ca broker-ca.pem
  2. sudo hindsight-force broker-config --dir $USER_HOME ... (see README.md, "Setting up a force")
  3. sudo systemctl start $SERVICES
EOF
fi
if [ "$CHANGES" = 0 ]; then
  printf '\n%s: nothing changed: everything was already in place\n' "$ME"
else
  printf '\n%s: done (%s change(s))\n' "$ME" "$CHANGES"
fi
