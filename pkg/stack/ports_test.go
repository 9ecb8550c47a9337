package stack

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestPortsFrom(t *testing.T) {
	p, err := PortsFrom(20000)
	if err != nil {
		t.Fatal(err)
	}
	if p.JaegerUI != 20000 || p.ConsumerHTTP != 20000+PortCount-1 {
		t.Errorf("PortsFrom(20000) = %+v, want 20000..%d", p, 20000+PortCount-1)
	}
	for _, base := range []int{0, 80, 65530} {
		if _, err := PortsFrom(base); err == nil {
			t.Errorf("PortsFrom(%d): want an error", base)
		}
	}
}

func TestFreePortBaseIsAFreeRange(t *testing.T) {
	base, err := FreePortBase()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PortsFrom(base); err != nil {
		t.Fatalf("FreePortBase() = %d: %v", base, err)
	}
	for p := base; p < base+PortCount; p++ {
		l, err := net.Listen("tcp", Addr(p))
		if err != nil {
			t.Fatalf("FreePortBase() = %d, but port %d is taken: %v", base, p, err)
		}
		l.Close()
	}
}

func TestFreePortsDistinct(t *testing.T) {
	p, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{cfg: Config{Ports: p}}
	seen := map[int]bool{}
	for _, u := range s.portUses() {
		if seen[u.port] || u.port == 0 {
			t.Fatalf("port %d (%s) repeated or zero in %+v", u.port, u.owner, p)
		}
		seen[u.port] = true
	}
	if len(seen) != PortCount {
		t.Errorf("%d ports, want %d", len(seen), PortCount)
	}
}

func TestCheckFreeNamesTheTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	free, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	err = checkFree([]portUse{{free.ProducerHTTP, "producer HTTP_ADDR"}, {taken, "workers HTTP_ADDR"}})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("checkFree = %v, want a PortInUseError", err)
	}
	if inUse.Port != taken || !strings.Contains(err.Error(), "(workers HTTP_ADDR) is in use") {
		t.Errorf("error %q should name port %d and its owner", err, taken)
	}

	err = checkFree([]portUse{{free.ProducerHTTP, "producer HTTP_ADDR"}, {free.ProducerHTTP, "workers HTTP_ADDR"}})
	if err == nil || !strings.Contains(err.Error(), "given to both producer HTTP_ADDR and workers HTTP_ADDR") {
		t.Errorf("duplicate port: got %v", err)
	}
}
