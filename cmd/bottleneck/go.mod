module github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck

go 1.26.0
