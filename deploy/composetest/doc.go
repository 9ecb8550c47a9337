// Package composetest runs `docker compose up` for real: the repository's
// docker-compose.yml and deploy/Dockerfile on a Docker engine, driven the
// way the README tells a user to, and checked through the published ports
// and Jaeger's HTTP API.
//
// Everything is the real thing except, where no image registry is
// reachable, the three base images. The Dockerfile, the images of the four
// services and of the report built from it, the compose file with its
// healthchecks, start order, network, environment wiring, memory limits and
// stop grace periods, and Compose v2 itself are what a user runs. On a
// machine that reaches no registry (CI), .ci/run builds local stand-ins
// for the base images (deploy/standins: the host's Go toolchain, a
// distroless-like runtime, and bin/jaeger laid out like the upstream Jaeger
// image) and passes their names in JAEGER_IMAGE, GO_IMAGE and
// RUNTIME_IMAGE; elsewhere the upstream images are pulled. The test passes
// those three variables through and clears the compose file's knobs (the
// .env names) from its environment, so the stack runs with the defaults.
//
// The test skips where no engine answers `docker info`, unless CI is set:
// then a missing engine is a failure. Each run is a Compose project of its
// own (hbcompose-<pid>-<random>); projects left behind by an earlier run
// whose process is gone are taken down first, and the run's own project is
// taken down at the end (containers, networks, volumes and the images it
// built), also on failure, after printing `docker compose ps` and every
// service's log. The compose file publishes fixed host ports (16686, 4317,
// 8080-8083), so nothing else may hold them meanwhile: not a stack of your
// own, nor a `bottleneck up` on the default ports. The test checks first
// and says which port is taken.
//
//	make test-compose              # this test alone, verbose
//	cd deploy/composetest && go test -count=1 -v .
package composetest
