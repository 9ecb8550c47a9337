#!/usr/bin/env bash
# Builds local stand-ins for the three base images docker-compose.yml and
# deploy/Dockerfile take from a registry, for machines that reach none (CI):
#
#   GO_IMAGE       golang:1.26                               <- the host's Go toolchain (go env GOROOT)
#   RUNTIME_IMAGE  gcr.io/distroless/static-debian12:nonroot <- CA certificates, time zones, nonroot user
#   JAEGER_IMAGE   jaegertracing/jaeger:2.13.0               <- bin/jaeger (make jaeger), BusyBox
#
# Only the base images are stand-ins; the service images, the compose file,
# the healthchecks and the network are the real thing. Use them with
#
#   export GO_IMAGE=hidden-bottleneck/go-build:local \
#          RUNTIME_IMAGE=hidden-bottleneck/runtime:local \
#          JAEGER_IMAGE=hidden-bottleneck/jaeger:local
#   deploy/standins/build.sh && docker compose up --build
#
# (the names above are the defaults when the variables are unset). A name
# of an upstream image is refused: a stand-in must never shadow the real one.
#
# Needs: a Docker engine, a static BusyBox (Debian: busybox-static), Go,
# bin/jaeger, CA certificates (/etc/ssl/certs/ca-certificates.crt).
#
# Why Dockerfiles and `docker build` rather than `docker import`: each
# image's layout, user and entrypoint are written down where a reviewer can
# compare them with the upstream image, and the builds are cached by the
# engine. They use the classic builder (DOCKER_BUILDKIT=0): it needs no
# buildx plugin, and these builds only copy files.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/deploy/standins"

go_image="${GO_IMAGE:-hidden-bottleneck/go-build:local}"
runtime_image="${RUNTIME_IMAGE:-hidden-bottleneck/runtime:local}"
jaeger_image="${JAEGER_IMAGE:-hidden-bottleneck/jaeger:local}"
jaeger_bin="${JAEGER_BIN:-$root/bin/jaeger}"
busybox="${BUSYBOX:-$(command -v busybox || true)}"
goroot="${GOROOT_STANDIN:-$(go env GOROOT)}"
certs=/etc/ssl/certs/ca-certificates.crt
zoneinfo=/usr/share/zoneinfo

die() {
	echo "standins: $*" >&2
	exit 1
}

# repository strips an optional docker.io/ or docker.io/library/ prefix and a
# tag, so that "golang:1.26" and "docker.io/library/golang" compare equal.
repository() {
	local name="${1%%@*}"
	local last="${name##*/}"
	if [[ "$last" == *:* ]]; then
		name="${name%:*}"
	fi
	name="${name#docker.io/}"
	name="${name#index.docker.io/}"
	name="${name#library/}"
	echo "$name"
}

for pair in "GO_IMAGE=$go_image" "RUNTIME_IMAGE=$runtime_image" "JAEGER_IMAGE=$jaeger_image"; do
	case "$(repository "${pair#*=}")" in
	golang | gcr.io/distroless/* | jaegertracing/* | cr.jaegertracing.io/*)
		die "$pair is an upstream image name; a stand-in must have a name of its own (e.g. hidden-bottleneck/...:local)"
		;;
	esac
done

[[ -n "$busybox" && -x "$busybox" ]] || die "no busybox found: install a static one (Debian: apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: install a static one (Debian: busybox-static) or set BUSYBOX"
fi
[[ -x "$goroot/bin/go" ]] || die "no Go toolchain at $goroot"
[[ -x "$jaeger_bin" ]] || die "no $jaeger_bin: run make jaeger first"
[[ -r "$certs" ]] || die "no $certs (Debian: apt-get install ca-certificates)"
docker info >/dev/null 2>&1 || die "no Docker engine answers docker info"

ctx="$(mktemp -d "${TMPDIR:-/tmp}/hb-standins.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT

# link_or_copy SRC DST: hard links where the file system allows, so the Go
# toolchain is not copied just to be sent to the engine.
link_or_copy() {
	cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"
}

write_etc() { # DIR SHELL: passwd, group and nsswitch.conf like the upstream images
	local dir="$1" shell="$2"
	mkdir -p "$dir/ssl/certs"
	cp "$certs" "$dir/ssl/certs/ca-certificates.crt"
	cat >"$dir/passwd" <<EOF
root:x:0:0:root:/root:$shell
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
	cat >"$dir/group" <<EOF
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
	echo "hosts: files dns" >"$dir/nsswitch.conf"
}

# go-build: BusyBox, /etc, the toolchain.
mkdir -p "$ctx/go-build"
cp "$busybox" "$ctx/go-build/busybox"
write_etc "$ctx/go-build/etc" /bin/sh
link_or_copy "$goroot" "$ctx/go-build/go"

# runtime: one root file system, no shell.
rt="$ctx/runtime/rootfs"
mkdir -p "$rt/home/nonroot" "$rt/tmp" "$rt/usr/share"
write_etc "$rt/etc" /sbin/nologin
chmod 1777 "$rt/tmp"
if [[ -d "$zoneinfo" ]]; then
	cp -a "$zoneinfo" "$rt/usr/share/zoneinfo"
else
	echo "standins: no $zoneinfo here; the runtime stand-in has no time zones" >&2
fi

# jaeger: BusyBox, /etc, the binary and, if it is cgo-linked, its C library.
mkdir -p "$ctx/jaeger/libs"
cp "$busybox" "$ctx/jaeger/busybox"
write_etc "$ctx/jaeger/etc" /bin/sh
link_or_copy "$jaeger_bin" "$ctx/jaeger/jaeger"
if libs="$(ldd "$jaeger_bin" 2>/dev/null)"; then
	while read -r lib; do
		cp --parents -L "$lib" "$ctx/jaeger/libs/"
	done < <(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' <<<"$libs")
fi

build() { # NAME IMAGE
	local name="$1" image="$2" log="$ctx/$1.log"
	local began=$SECONDS
	if ! DOCKER_BUILDKIT=0 docker build -q -f "$here/$name.Dockerfile" -t "$image" "$ctx/$name" >"$log" 2>&1; then
		echo "standins: building $image failed:" >&2
		cat "$log" >&2
		return 1
	fi
	echo "standins: $image ($name) built in $((SECONDS - began))s"
}

# The three builds are independent; the Go toolchain's is the long one.
pids=()
build go-build "$go_image" &
pids+=($!)
build runtime "$runtime_image" &
pids+=($!)
build jaeger "$jaeger_image" &
pids+=($!)
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=1
done
((failed == 0)) || die "a stand-in image failed to build"

docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
	grep -F -e "$go_image" -e "$runtime_image" -e "$jaeger_image" || true
