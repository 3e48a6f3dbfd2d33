#!/usr/bin/env bash
# A private Docker daemon for regraft's tests: tests/dockerd.sh start|stop|status DIR
#
#   start   starts Debian's dockerd (vfs storage, no iptables, no bridge) with everything under
#           DIR (data, exec root, socket, pid file, log), waits until it answers, and prints the
#           DOCKER_HOST to use (unix://DIR/sock). Exit 1, with the reason on stderr, when no
#           daemon can start (no dockerd, not root, no cgroups...): callers skip loudly then.
#   stop    stops the daemon started in DIR, by its pid file, waits for it to exit, and unmounts
#           what it left mounted under DIR.
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
	# Its own containerd namespaces: where a host containerd runs, this daemon's containers and
	# images stay apart from the host Docker's (namespace `moby`).
	setsid dockerd --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
		--data-root "$dir/root" --exec-root "$dir/exec" -H "unix://$sock" \
		--containerd-namespace regraft-tests --containerd-plugins-namespace regraft-tests-plugins \
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
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
			for _ in $(seq 1 20); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.5
			done
		fi
	fi
	# What the daemon mounted under DIR (netns, shm), so that DIR can be removed.
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	;;
status) answers ;;
*)
	echo "tests/dockerd.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
