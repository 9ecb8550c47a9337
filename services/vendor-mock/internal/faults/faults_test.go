package faults

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPresets(t *testing.T) {
	for _, name := range PresetNames() {
		c, err := Preset(name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", name, err)
		}
		if c.Preset != name {
			t.Errorf("Preset(%q).Preset = %q", name, c.Preset)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Preset(%q) does not validate: %v", name, err)
		}
		if len(c.Routes) != 0 || c.Routes == nil {
			t.Errorf("Preset(%q).Routes = %v, want empty non-nil", name, c.Routes)
		}
	}
	if Default().Preset != Degraded {
		t.Errorf("Default().Preset = %q, want degraded (the incident)", Default().Preset)
	}
	d := Default().Global
	if d.Latency != (Range{ms(100), ms(300)}) || d.Degraded.Probability != 0.2 ||
		d.Degraded.Latency != (Range{ms(500), ms(2000)}) {
		t.Errorf("degraded preset = %+v, want 100-300ms with 20%% at 500ms-2s", d)
	}
	if o, _ := Preset(Outage); o.Global.Hang.Probability != 1 || o.Global.Hang.Timeout <= 0 {
		t.Errorf("outage = %+v, want every call to hang with a timeout", o.Global)
	}
	if f, _ := Preset(Flaky); f.Global.Error.Probability <= 0 || f.Global.Error.Status != 503 {
		t.Errorf("flaky = %+v, want a share of 503s", f.Global)
	}
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), `unknown preset "nope"`) {
		t.Errorf("Preset(nope) error = %v", err)
	}
}

func TestRuleForLongestPrefixWins(t *testing.T) {
	c := Default()
	pay, fraud := c.Global, c.Global
	pay.Jitter, fraud.Jitter = ms(1), ms(2)
	c.Routes = map[string]Rule{"/v1/payment": pay, "/v1/payment/authorize": fraud}
	for path, want := range map[string]string{
		"/v1/payment/authorize": "/v1/payment/authorize",
		"/v1/payment/refund":    "/v1/payment",
		"/v1/tax/calculate":     GlobalRule,
		"/v2/payment":           GlobalRule,
	} {
		r, name := c.RuleFor(path)
		if name != want {
			t.Errorf("RuleFor(%q) = %q, want %q", path, name, want)
		}
		if name != GlobalRule && r != c.Routes[name] {
			t.Errorf("RuleFor(%q) returned the wrong rule", path)
		}
	}
}

func TestDecode(t *testing.T) {
	slow, _ := Preset(Slow)
	tests := []struct {
		name string
		body string
		want func() Config
	}{
		{"preset alone", `{"preset":"slow"}`, func() Config { return slow }},
		{"preset is the base for given fields", `{"preset":"healthy","global":{"error":{"probability":0.5}}}`, func() Config {
			c, _ := Preset(Healthy)
			c.Global.Error.Probability = 0.5
			c.Preset = Custom
			return c
		}},
		{"no preset starts from the empty rule", `{"global":{"latency":{"min":"20ms","max":"30ms"}}}`, func() Config {
			r := EmptyRule()
			r.Latency = Range{ms(20), ms(30)}
			return Config{Preset: Custom, Global: r, Routes: map[string]Rule{}}
		}},
		{"a route starts from the global rule", `{"preset":"healthy","routes":{"/v1/payment":{"error":{"probability":1,"status":502}}}}`, func() Config {
			c, _ := Preset(Healthy)
			r := c.Global
			r.Error = ErrorFault{Probability: 1, Status: 502}
			c.Routes["/v1/payment"] = r
			return c
		}},
		{"rules equal to a preset are labelled with it", `{"preset":"custom","global":{"latency":{"min":"100ms","max":"300ms"}}}`, func() Config {
			c, _ := Preset(Healthy)
			return c
		}},
		{"zero durations", `{"global":{"jitter":"0","hang":{"timeout":"0s"}}}`, func() Config {
			return Config{Preset: Custom, Global: EmptyRule(), Routes: map[string]Rule{}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestDecodeErrors checks that every kind of bad input is refused with a
// message that names the field.
func TestDecodeErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{`[]`, "body: want a JSON object, got array"},
		{`null`, "body: want a JSON object, got null"},
		{`{"bogus":1}`, "bogus: unknown field"},
		{`{"global":{"latency":{"avg":"1s"}}}`, "global.latency.avg: unknown field (want max, min)"},
		{`{"global":{"degraded":{"probability":1.5}}}`, "global.degraded.probability: 1.5 is outside [0,1]"},
		{`{"global":{"error":{"probability":-0.1}}}`, "global.error.probability: -0.1 is outside [0,1]"},
		{`{"global":{"hang":{"probability":2}}}`, "global.hang.probability: 2 is outside [0,1]"},
		{`{"global":{"degraded":{"probability":"0.5"}}}`, `global.degraded.probability: want a number from 0 to 1, got string "0.5"`},
		{`{"global":{"latency":{"min":"-5ms"}}}`, "global.latency.min: -5ms is negative"},
		{`{"global":{"jitter":"-1s"}}`, "global.jitter: -1s is negative"},
		{`{"global":{"hang":{"timeout":"-1s"}}}`, "global.hang.timeout: -1s is negative"},
		{`{"global":{"jitter":"2h"}}`, "global.jitter: 2h0m0s is longer than the 1h0m0s limit"},
		{`{"global":{"latency":{"min":"300ms","max":"100ms"}}}`, "global.latency: min 300ms is greater than max 100ms"},
		{`{"global":{"degraded":{"latency":{"min":"2s","max":"1s"}}}}`, "global.degraded.latency: min 2s is greater than max 1s"},
		{`{"global":{"latency":{"min":250}}}`, `global.latency.min: want a duration string like "250ms", got number 250`},
		{`{"global":{"latency":{"min":"soon"}}}`, `global.latency.min: "soon" is not a duration`},
		{`{"global":{"error":{"status":200}}}`, "global.error.status: 200 is not an error status (want 400-599)"},
		{`{"global":{"error":{"status":503.5}}}`, "global.error.status: want an integer HTTP status from 400 to 599, got number 503.5"},
		{`{"global":{"latency":null}}`, "global.latency: want a JSON object, got null"},
		{`{"preset":"chaos"}`, `preset: unknown preset "chaos" (want healthy, degraded, slow, flaky, outage or custom)`},
		{`{"preset":3}`, "preset: want a string, got number 3"},
		{`{"routes":{"v1/payment":{}}}`, `routes["v1/payment"]: a route prefix must start with "/"`},
		{`{"routes":{"":{}}}`, `routes[""]: a route prefix must start with "/"`},
		{`{"routes":{"/v1/x":{"latency":{"min":"1s","max":"0s"}}}}`, `routes["/v1/x"].latency: min 1s is greater than max 0s`},
		{`{"routes":{"/v1/x":{"hang":{"probability":1.01}}}}`, `routes["/v1/x"].hang.probability: 1.01 is outside [0,1]`},
		{`{"routes":{"/v1/x":null}}`, `routes["/v1/x"]: null deletes a route and is only allowed in PATCH`},
		{`{"routes":[]}`, "routes: want a JSON object, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%s) error = %v, want it to contain %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	base := Default()
	withPay := base.Clone()
	pay := base.Global
	pay.Error = ErrorFault{Probability: 1, Status: 502}
	withPay.Routes["/v1/payment"] = pay

	tests := []struct {
		name string
		cur  Config
		body string
		want func() Config
	}{
		{"empty patch changes nothing", base, `{}`, func() Config { return base }},
		{"given fields replace, absent stay", base, `{"global":{"degraded":{"probability":0.5}}}`, func() Config {
			c := base.Clone()
			c.Global.Degraded.Probability = 0.5
			c.Preset = Custom
			return c
		}},
		{"label follows the rules", base, `{"global":{"degraded":{"probability":0}}}`, func() Config {
			c := base.Clone()
			c.Global.Degraded.Probability = 0
			c.Preset = Healthy // degraded without its slow share is healthy
			return c
		}},
		{"preset resets the global rule and keeps routes", withPay, `{"preset":"slow"}`, func() Config {
			c, _ := Preset(Slow)
			c.Routes["/v1/payment"] = pay
			return c
		}},
		{"route fields merge into the route", withPay, `{"routes":{"/v1/payment":{"error":{"status":504}}}}`, func() Config {
			c := withPay.Clone()
			r := pay
			r.Error.Status = 504
			c.Routes["/v1/payment"] = r
			return c
		}},
		{"a new route starts from the patched global rule", base, `{"global":{"jitter":"5ms"},"routes":{"/v1/tax":{"error":{"probability":1}}}}`, func() Config {
			c := base.Clone()
			c.Global.Jitter = ms(5)
			c.Preset = Custom
			r := c.Global
			r.Error.Probability = 1
			c.Routes["/v1/tax"] = r
			return c
		}},
		{"null deletes a route", withPay, `{"routes":{"/v1/payment":null,"/v1/none":null}}`, func() Config { return base }},
		{"null routes deletes them all", withPay, `{"routes":null}`, func() Config { return base }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.cur.Clone()
			got, err := Merge(tt.cur, []byte(tt.body))
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("Merge =\n%+v\nwant\n%+v", got, want)
			}
			if !reflect.DeepEqual(tt.cur, before) {
				t.Errorf("Merge changed its input: %+v", tt.cur)
			}
		})
	}

	if _, err := Merge(withPay, []byte(`{"routes":{"/v1/payment":{"error":{"status":99}}}}`)); err == nil ||
		!strings.Contains(err.Error(), `routes["/v1/payment"].error.status: 99`) {
		t.Errorf("bad route patch error = %v", err)
	}
}

func TestValidateRejectsHandBuiltMistakes(t *testing.T) {
	c := Default()
	c.Preset = Slow
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `preset: "slow" does not describe the global rule (it is "degraded")`) {
		t.Errorf("mislabelled config: %v", err)
	}
	c = Default()
	for i := range MaxRoutes + 1 {
		c.Routes["/"+strings.Repeat("x", i)] = c.Global
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "routes: 101 rules, at most 100") {
		t.Errorf("too many routes: %v", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c, _ := Preset(Flaky)
	r := c.Global
	r.Jitter = Duration(1500 * time.Microsecond)
	c.Routes["/v1/fraud"] = r
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"jitter":"1.5ms"`) {
		t.Errorf("durations should encode as strings: %s", data)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(%s): %v", data, err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", got, c)
	}
}
