module github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest

go 1.26.0
