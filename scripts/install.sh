#!/bin/sh
# Install SkyDNS on this host, or into a staging tree (DESTDIR), from a built
# source tree. See docs/install.md, or run: scripts/install.sh --help
#
# It installs the programs, the sample configs (never overwriting the
# operator's), the systemd units and the sysusers file. It never enables or
# starts a service. Running it again changes nothing unless a file changed.
#
# skydns-apicmd is the operator's command line, not a daemon: it is
# installed with the others but gets no systemd unit.
set -eu

usage() {
	cat <<'EOF'
Usage: scripts/install.sh [--help]

Installs a built SkyDNS tree (run `make build` first). Settings come from the
environment:

  DESTDIR         staging root prepended to every path (default: empty, the
                  live system)
  PREFIX          default /usr
  BINDIR          programs (default: $PREFIX/bin)
  SYSCONFDIR      config files (default: /etc/skydns)
  UNITDIR         systemd units (default: /etc/systemd/system)
  SYSUSERSDIR     sysusers.d file (default: $PREFIX/lib/sysusers.d)
  SKYDNS_BIN_DIR  where the built programs are (default: bin/ of this tree)

An existing config file that differs from the sample is kept, and the sample
is written next to it as <name>.conf.new.

With DESTDIR empty and run as root it also creates the skydns system user
and group if they are missing, makes the config files root:skydns, and runs
`systemctl daemon-reload` when systemd is running. No service is enabled or
started.
EOF
}

case "${1-}" in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	printf "install.sh: unknown argument: %s (try --help)\n" "$1" >&2
	exit 2
	;;
esac

# The tree this script belongs to, wherever it is run from.
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

DESTDIR=${DESTDIR-}
PREFIX=${PREFIX:-/usr}
BINDIR=${BINDIR:-$PREFIX/bin}
SYSCONFDIR=${SYSCONFDIR:-/etc/skydns}
UNITDIR=${UNITDIR:-/etc/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
SKYDNS_BIN_DIR=${SKYDNS_BIN_DIR:-$REPO/bin}

PROGRAMS="skydns skydns-kubeapi skydns-scanner skydns-schedule skydns-apicmd"
# Daemon and the config file it reads; skydns-apicmd has neither.
DAEMONS="skydns:skydns.conf skydns-kubeapi:skydns-api.conf skydns-scanner:skydns-scanner.conf skydns-schedule:skydns-schedule.conf"

# say prints its arguments as they are (echo in dash would interpret
# backslashes in a path).
say() {
	printf '%s\n' "$*"
}

die() {
	say "install.sh: $*" >&2
	exit 1
}

# check_path NAME VALUE: VALUE is absolute and safe to write into a unit
# file and a sed replacement.
check_path() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path, not '$2'" ;;
	esac
	case $2 in
	*[[:space:]]* | *[\\\&\|]*) die "$1 must not contain blanks, '\\', '&' or '|': '$2'" ;;
	*) ;;
	esac
}
check_path BINDIR "$BINDIR"
check_path SYSCONFDIR "$SYSCONFDIR"
check_path UNITDIR "$UNITDIR"
check_path SYSUSERSDIR "$SYSUSERSDIR"

for p in $PROGRAMS; do
	[ -x "$SKYDNS_BIN_DIR/$p" ] ||
		die "$SKYDNS_BIN_DIR/$p is missing: run 'make build' first (or set SKYDNS_BIN_DIR)"
done

umask 022
changed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/skydns-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# has_mode FILE MODE: FILE's permission bits are exactly MODE (octal).
has_mode() {
	[ -n "$(find "$1" -prune -perm "$2")" ]
}

# put SRC DST MODE: make DST a copy of SRC with MODE, unless it already is.
# The copy goes to a temporary name and is renamed over DST, so a running
# program is never written to in place.
put() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		if ! has_mode "$2" "$3"; then
			chmod "$3" "$2"
			say "mode $3 $2"
			changed=$((changed + 1))
		fi
		return 0
	fi
	mkdir -p "$(dirname -- "$2")"
	cp "$1" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	mv -f "$2.tmp.$$" "$2"
	say "installed $2"
	changed=$((changed + 1))
}

# Programs.
for p in $PROGRAMS; do
	put "$SKYDNS_BIN_DIR/$p" "$DESTDIR$BINDIR/$p" 0755
done

# Config files: the operator's own are never replaced.
conffiles=""
for d in $DAEMONS; do
	conf=${d#*:}
	src=$REPO/conf/$conf
	dst=$DESTDIR$SYSCONFDIR/$conf
	if [ ! -e "$dst" ]; then
		put "$src" "$dst" 0640
	elif ! cmp -s "$src" "$dst"; then
		if [ ! -f "$dst.new" ] || ! cmp -s "$src" "$dst.new"; then
			put "$src" "$dst.new" 0640
			say "kept $dst, which differs from the sample: the new sample is $dst.new"
		fi
		conffiles="$conffiles $dst.new"
	fi
	conffiles="$conffiles $dst"
done

# Units, with the paths rewritten when they are not the defaults.
for d in $DAEMONS; do
	prog=${d%%:*}
	conf=${d#*:}
	sed -e "s|^ExecStart=/usr/bin/$prog -config-file /etc/skydns/$conf\$|ExecStart=$BINDIR/$prog -config-file $SYSCONFDIR/$conf|" \
		"$REPO/scripts/systemd/$prog.service" >"$tmp/$prog.service"
	grep -qx "ExecStart=$BINDIR/$prog -config-file $SYSCONFDIR/$conf" "$tmp/$prog.service" ||
		die "scripts/systemd/$prog.service: no ExecStart line to rewrite"
	put "$tmp/$prog.service" "$DESTDIR$UNITDIR/$prog.service" 0644
done

# The user and group the daemons run as.
put "$REPO/scripts/systemd/skydns.sysusers" "$DESTDIR$SYSUSERSDIR/skydns.conf" 0644
case $SYSUSERSDIR in
/usr/lib/sysusers.d | /etc/sysusers.d | /run/sysusers.d) ;;
*) say "note: systemd-sysusers does not read $SYSUSERSDIR; set SYSUSERSDIR=/usr/lib/sysusers.d to have it create the skydns user at boot" ;;
esac

# The live system only: user, ownership of the configs, systemd.
if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ]; then
	group_exists() {
		if command -v getent >/dev/null 2>&1; then
			getent group "$1" >/dev/null
		else
			grep -q "^$1:" /etc/group
		fi
	}
	if ! id -u skydns >/dev/null 2>&1 || ! group_exists skydns; then
		if command -v systemd-sysusers >/dev/null 2>&1; then
			systemd-sysusers "$SYSUSERSDIR/skydns.conf"
		else
			group_exists skydns || groupadd --system skydns
			id -u skydns >/dev/null 2>&1 ||
				useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin \
					--gid skydns --comment "SkyDNS daemons" skydns
		fi
		say "created the system user and group skydns"
		changed=$((changed + 1))
	fi
	for f in $conffiles; do
		if [ -z "$(find "$f" -prune -user root -group skydns)" ]; then
			chown root:skydns "$f"
			say "owner root:skydns $f"
			changed=$((changed + 1))
		fi
	done
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload
	fi
elif [ -z "$DESTDIR" ]; then
	say "note: not root, so the skydns user, the config files' owner (root:skydns) and 'systemctl daemon-reload' are left to you"
fi

if [ "$changed" -eq 0 ]; then
	say "nothing to do: everything is installed and up to date"
fi

cat <<EOF

Next steps:
  1. Edit the config files in $SYSCONFDIR/ (at least [Etcd] etcd-servers in
     each; merge any .conf.new into the file next to it).
  2. Start the daemons this host runs, for example:
       systemctl enable --now skydns skydns-scanner skydns-schedule skydns-kubeapi
  3. Check: journalctl -u skydns; curl http://127.0.0.1:9153/readyz
See docs/install.md.
EOF
