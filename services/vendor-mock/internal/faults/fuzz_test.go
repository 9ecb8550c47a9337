package faults

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeConfig: the decoder never panics, and whatever it accepts is
// valid and survives an encode/decode round trip unchanged. Plain `go test`
// runs it over testdata/fuzz/FuzzDecodeConfig and the seeds below.
func FuzzDecodeConfig(f *testing.F) {
	for _, name := range PresetNames() {
		c, _ := Preset(name)
		data, _ := json.Marshal(c)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted %q but it does not validate: %v", data, err)
		}
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("encode %+v: %v", c, err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
		// A merge of the same body onto any config must also stay valid.
		if m, err := Merge(Default(), data); err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("merged %q but it does not validate: %v", data, err)
			}
		}
	})
}
