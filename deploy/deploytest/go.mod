module github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest

go 1.26.0

require (
	github.com/compose-spec/compose-go/v2 v2.16.2
	github.com/distribution/reference v0.6.0
	github.com/moby/buildkit v0.31.0
	github.com/moby/patternmatcher v0.6.1
	golang.org/x/mod v0.41.0
)

require (
	github.com/agext/levenshtein v1.2.3 // indirect
	github.com/containerd/typeurl/v2 v2.3.0 // indirect
	github.com/docker/go-connections v0.4.0 // indirect
	github.com/docker/go-units v0.5.0 // indirect
	github.com/go-viper/mapstructure/v2 v2.5.0 // indirect
	github.com/hidden-bottleneck/hidden-bottleneck/pkg v0.0.0-00010101000000-000000000000 // indirect
	github.com/mattn/go-shellwords v1.0.12 // indirect
	github.com/moby/docker-image-spec v1.3.1 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/planetscale/vtprotobuf v0.6.1-0.20240319094008-0393e58bdf10 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.1 // indirect
	github.com/sirupsen/logrus v1.10.1 // indirect
	github.com/tonistiigi/go-csvvalue v0.0.0-20240814133006-030d3b2625d0 // indirect
	github.com/xhit/go-str2duration/v2 v2.1.0 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.4 // indirect
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260928230214-8a89bd6388cc // indirect
	google.golang.org/grpc v1.83.2 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The services' config packages, for the drift test; the workspace resolves
// them too, these keep `go mod tidy` and GOWORK=off working.
require (
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/producer v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers v0.0.0-00010101000000-000000000000
)

replace (
	github.com/hidden-bottleneck/hidden-bottleneck/pkg => ../../pkg
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer => ../../services/consumer
	github.com/hidden-bottleneck/hidden-bottleneck/services/producer => ../../services/producer
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock => ../../services/vendor-mock
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers => ../../services/workers
)
