#!/usr/bin/env bash
# A private Docker daemon for regraft's tests: tests/dockerd.sh start|stop|status DIR
#
#   start   starts Debian's dockerd (vfs storage, no iptables, no bridge) with everything under
#           DIR (data, exec root, socket, pid file, log), waits until it answers, and prints the
#           DOCKER_HOST to use (unix://DIR/sock). Exit 1, with the reason on stderr, when no
#           daemon can start (no dockerd, not root, no cgroups...): callers skip loudly then.
#   stop    stops the daemon started in DIR, by its pid file, and waits for it to exit.
#   status  exit 0 when the daemon in DIR answers.
#
# The daemon never touches the host's own Docker (if any): its own data root and socket.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: tests/dockerd.sh start|stop|status DIR" >&2
	exit 2
}
sock="$dir/sock"
pidfile="$dir/pid"

answers() { DOCKER_HOST="unix://$sock" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case $cmd in
start)
	command -v dockerd >/dev/null || {
		echo "dockerd not found (Debian package docker.io)" >&2
		exit 1
	}
	command -v docker >/dev/null || {
		echo "docker client not found (Debian package docker.io)" >&2
		exit 1
	}
	[ "$(id -u)" = 0 ] || {
		echo "dockerd needs root" >&2
		exit 1
	}
	mkdir -p "$dir"
	if [ -f "$pidfile" ] && answers; then
		echo "unix://$sock"
		exit 0
	fi
	rm -f "$sock" "$pidfile"
	# setsid: the daemon outlives this script, in its own session, until `stop`.
	setsid dockerd --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
		--data-root "$dir/root" --exec-root "$dir/exec" -H "unix://$sock" \
		--pidfile "$pidfile" >"$dir/log" 2>&1 </dev/null &
	for _ in $(seq 1 120); do
		if answers; then
			echo "unix://$sock"
			exit 0
		fi
		if ! kill -0 $! 2>/dev/null; then
			echo "dockerd exited at start; the end of its log ($dir/log):" >&2
			tail -5 "$dir/log" >&2
			exit 1
		fi
		sleep 0.5
	done
	echo "dockerd did not answer within 60 s; the end of its log ($dir/log):" >&2
	tail -5 "$dir/log" >&2
	exit 1
	;;
stop)
	[ -f "$pidfile" ] || exit 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null || true
	;;
status) answers ;;
*)
	echo "tests/dockerd.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
