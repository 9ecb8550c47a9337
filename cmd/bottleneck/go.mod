module github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/hidden-bottleneck/hidden-bottleneck/pkg v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock v0.0.0-00010101000000-000000000000
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers v0.0.0-00010101000000-000000000000
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)

replace (
	github.com/hidden-bottleneck/hidden-bottleneck/pkg => ../../pkg
	github.com/hidden-bottleneck/hidden-bottleneck/services/consumer => ../../services/consumer
	github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock => ../../services/vendor-mock
	github.com/hidden-bottleneck/hidden-bottleneck/services/workers => ../../services/workers
)
