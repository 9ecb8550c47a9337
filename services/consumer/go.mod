module github.com/hidden-bottleneck/hidden-bottleneck/services/consumer

go 1.26.0
