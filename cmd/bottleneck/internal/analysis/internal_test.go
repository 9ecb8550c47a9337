package analysis

import "testing"

func TestPercentileNearestRank(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(i + 1)
	}
	for _, c := range []struct{ p, want float64 }{{0.5, 50}, {0.99, 99}, {1, 100}} {
		if got := Percentile(v, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p*100, got, c.want)
		}
	}
	if got := Percentile([]float64{7}, 0.99); got != 7 {
		t.Errorf("p99 of one value = %v", got)
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of none = %v", got)
	}
}

func TestMaxOverlap(t *testing.T) {
	tests := []struct {
		iv   [][2]int64
		want int
	}{
		{nil, 0},
		{[][2]int64{{0, 10}, {10, 20}, {20, 30}}, 1}, // back to back: serial
		{[][2]int64{{0, 10}, {5, 15}, {6, 7}}, 3},
	}
	for _, tt := range tests {
		if got := maxOverlap(tt.iv); got != tt.want {
			t.Errorf("maxOverlap(%v) = %d, want %d", tt.iv, got, tt.want)
		}
	}
}

func TestFluidPeak(t *testing.T) {
	// 20 at once drained at 20/s: 20. One a second drained at 20/s: 1.
	burst := make([]int64, 20)
	steady := make([]int64, 20)
	for i := range steady {
		steady[i] = int64(i) * 1e6
	}
	if got := fluidPeak(burst, 20); got != 20 {
		t.Errorf("burst peak %v, want 20", got)
	}
	if got := fluidPeak(steady, 20); got != 1 {
		t.Errorf("steady peak %v, want 1", got)
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int]int{1: 1, 17: 17, 20: 20, 21: 21, 134: 140, 140: 140, 1234: 1300, 99999: 100000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestCompareIDs(t *testing.T) {
	if CompareIDs("2", "10") >= 0 || CompareIDs("10", "2") <= 0 || CompareIDs("a", "b") >= 0 {
		t.Error("want numeric order for numbers, text order otherwise")
	}
}

func TestBurstBufferSizeLeavesRoomButNoMoreThanABurst(t *testing.T) {
	for _, c := range []struct {
		peak, burst, lanes, size int
		whole                    bool
	}{
		{13, 20, 1, 20, true},   // the checkout burst: all 20 fit
		{13, 100, 1, 26, false}, // a long burst: twice the peak
		{13, 13, 1, 26, false},  // burst size unknown or no larger than the peak
		{13, 100, 2, 13, false}, // per lane
		{0, 0, 1, 0, false},
	} {
		size, whole := burstBufferSize(c.peak, c.burst, c.lanes)
		if size != c.size || whole != c.whole {
			t.Errorf("burstBufferSize(%d, %d, %d) = %d, %v; want %d, %v", c.peak, c.burst, c.lanes, size, whole, c.size, c.whole)
		}
	}
}
