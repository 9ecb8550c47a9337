package faults

import "testing"

func BenchmarkDeciderDecide(b *testing.B) {
	d := NewDecider(1)
	rule := Default().Global
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Decide(rule)
		}
	})
}
