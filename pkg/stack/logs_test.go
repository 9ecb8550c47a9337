package stack

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineWriterPrefixesWholeLines(t *testing.T) {
	var buf bytes.Buffer
	out := &logOutput{w: &buf}
	tl := newTail(3)
	lw := &lineWriter{out: out, prefix: prefixFor("workers", 11, 0), tail: tl}

	for _, chunk := range []string{"first li", "ne\nsecond\r\nthi", "rd\n", "no newline"} {
		if n, err := lw.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	lw.flush()

	want := "workers     | first line\n" +
		"workers     | second\n" +
		"workers     | third\n" +
		"workers     | no newline\n"
	if got := buf.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if got, want := tl.String(), "  second\n  third\n  no newline"; got != want {
		t.Errorf("tail = %q, want %q (the last 3 lines, oldest first)", got, want)
	}
}

func TestLineWriterBoundsLongLines(t *testing.T) {
	var buf bytes.Buffer
	lw := &lineWriter{out: &logOutput{w: &buf}, prefix: "x | ", tail: newTail(2)}
	long := strings.Repeat("a", maxLine+10)
	lw.Write([]byte(long))
	if len(lw.buf) >= maxLine {
		t.Fatalf("buffered %d bytes, want < %d: a line without newline must not grow memory", len(lw.buf), maxLine)
	}
	lw.Write([]byte("bc"))
	lw.flush()
	if got, want := buf.String(), "x | "+long+"\nx | bc\n"; got != want {
		t.Errorf("long line came out as %d bytes in %d lines, want it passed on whole and then the rest",
			len(got), strings.Count(got, "\n"))
	}
}

func TestPrefixColor(t *testing.T) {
	if got := prefixFor("jaeger", 11, 36); got != "\x1b[36mjaeger      | \x1b[0m" {
		t.Errorf("colored prefix = %q", got)
	}
}

func TestTailEmpty(t *testing.T) {
	if got := newTail(2).String(); got != "  (no output)" {
		t.Errorf("empty tail = %q", got)
	}
}
