module github.com/hidden-bottleneck/hidden-bottleneck/e2e

go 1.26.0
