module github.com/hidden-bottleneck/hidden-bottleneck/deploy/composetest

go 1.26.0

require github.com/hidden-bottleneck/hidden-bottleneck/pkg v0.0.0-00010101000000-000000000000

replace github.com/hidden-bottleneck/hidden-bottleneck/pkg => ../../pkg
