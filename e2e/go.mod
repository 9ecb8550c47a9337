module github.com/hidden-bottleneck/hidden-bottleneck/e2e

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/hidden-bottleneck/hidden-bottleneck/pkg v0.0.0-00010101000000-000000000000
	google.golang.org/grpc v1.83.2
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/felixge/httpsnoop v1.1.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.30.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	github.com/prometheus/otlptranslator v1.0.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/zoobzio/clockz v0.0.2 // indirect
	github.com/zoobzio/tracez v0.0.13 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc v0.72.0 // indirect
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.72.0 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/exporters/otlp/otlptrace v1.47.0 // indirect
	go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc v1.47.0 // indirect
	go.opentelemetry.io/otel/exporters/prometheus v0.69.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/sdk v1.47.0 // indirect
	go.opentelemetry.io/otel/sdk/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	go.opentelemetry.io/proto/otlp v1.11.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260928230214-8a89bd6388cc // indirect
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
