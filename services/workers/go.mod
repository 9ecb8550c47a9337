module github.com/hidden-bottleneck/hidden-bottleneck/services/workers

go 1.26.0
