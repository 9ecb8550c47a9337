module github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock

go 1.26.0
