module github.com/hidden-bottleneck/hidden-bottleneck/services/producer

go 1.26.0
