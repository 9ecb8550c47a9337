package envconfig

import (
	"strings"
	"testing"
	"time"
)

func TestReaderDefaultsAndValues(t *testing.T) {
	r := FromMap(map[string]string{
		"N": "7", "D": "250ms", "B": "on", "E": "NonBlocking", "G": "10ms-50ms", "F": "0.5", "Z": "0",
	})
	if got := r.Int("N", 1, 0, 10); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Int("MISSING", 3, 0, 10); got != 3 {
		t.Errorf("default Int = %d", got)
	}
	if got := r.Duration("D", 0, 0, time.Minute); got != 250*time.Millisecond {
		t.Errorf("Duration = %v", got)
	}
	if got := r.Duration("Z", time.Second, 0, time.Minute); got != 0 {
		t.Errorf("bare 0 Duration = %v", got)
	}
	if !r.Bool("B", false) {
		t.Error("Bool(on) = false")
	}
	if got := r.Enum("E", "blocking", "blocking", "nonblocking"); got != "nonblocking" {
		t.Errorf("Enum = %q", got)
	}
	if got := r.DurationRange("G", Range{}); got != (Range{10 * time.Millisecond, 50 * time.Millisecond}) {
		t.Errorf("Range = %v", got)
	}
	if got := r.Float("F", 0, 0, 1); got != 0.5 {
		t.Errorf("Float = %v", got)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	want := []string{"B", "D", "E", "F", "G", "MISSING", "N", "Z"}
	if got := strings.Join(r.Names(), ","); got != strings.Join(want, ",") {
		t.Errorf("Names = %s", got)
	}
}

func TestReaderCollectsEveryError(t *testing.T) {
	r := FromMap(map[string]string{
		"N": "x", "D": "-1s", "B": "maybe", "E": "sideways", "G": "50ms-10ms", "F": "2",
	})
	r.Int("N", 1, 0, 10)
	r.Duration("D", 0, 0, time.Minute)
	r.Bool("B", false)
	r.Enum("E", "a", "a", "b")
	r.DurationRange("G", Range{})
	r.Float("F", 0, 0, 1)
	err := r.Err()
	if err == nil {
		t.Fatal("no error for six bad values")
	}
	for _, name := range []string{`N="x"`, `D="-1s"`, `B="maybe"`, `E="sideways"`, `G="50ms-10ms"`, `F="2"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestCommon(t *testing.T) {
	if got := FromMap(nil).Common(); got != (Common{LogLevel: "info", LogFormat: "text", ShutdownTimeout: 10 * time.Second}) {
		t.Errorf("defaults = %+v", got)
	}
	r := FromMap(map[string]string{"LOG_LEVEL": "debug", "LOG_FORMAT": "json", "PPROF_ADDR": "127.0.0.1:6060", "SHUTDOWN_TIMEOUT": "1h"})
	want := Common{LogLevel: "debug", LogFormat: "json", PprofAddr: "127.0.0.1:6060", ShutdownTimeout: time.Hour}
	if got := r.Common(); got != want || r.Err() != nil {
		t.Errorf("Common = %+v, %v; want %+v", got, r.Err(), want)
	}
	for _, v := range []string{"0", "99ms", "1h0m1s"} {
		r := FromMap(map[string]string{"SHUTDOWN_TIMEOUT": v})
		r.Common()
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "from 100ms to 1h") {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v", v, err)
		}
	}
}
