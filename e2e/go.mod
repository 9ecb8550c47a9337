module github.com/hidden-bottleneck/hidden-bottleneck/e2e

go 1.26.0

require (
	github.com/hidden-bottleneck/hidden-bottleneck/pkg v0.0.0-00010101000000-000000000000
	google.golang.org/grpc v1.83.2
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260928230214-8a89bd6388cc // indirect
)

// The services' config packages, for the experiment's settings drift test;
// the workspace resolves them too, these keep `go mod tidy` working.
require (
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/producer v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers v0.0.0-00010101000000-000000000000
)

replace (
	github.com/hidden-bottleneck/hidden-bottleneck/pkg => ../pkg
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer => ../services/consumer
	github.com/hidden-bottleneck/hidden-bottleneck/services/producer => ../services/producer
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock => ../services/vendor-mock
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers => ../services/workers
)
