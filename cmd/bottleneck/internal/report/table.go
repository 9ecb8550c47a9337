package report

import (
	"io"
	"strings"
	"unicode/utf8"
)

// style adds ANSI styling when the output is a terminal, nothing
// otherwise, so piped output and files stay plain text.
type style struct{ color bool }

func (s style) wrap(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(t string) string   { return s.wrap("1", t) }
func (s style) dim(t string) string    { return s.wrap("2", t) }
func (s style) red(t string) string    { return s.wrap("31", t) }
func (s style) green(t string) string  { return s.wrap("32", t) }
func (s style) yellow(t string) string { return s.wrap("33", t) }

// table prints aligned columns. Widths are measured on the plain text, so
// styling a cell never breaks alignment (tabwriter counts escape codes).
type table struct {
	header []string
	right  []bool // right-align column i (numbers)
	rows   [][]cell
}

type cell struct {
	text  string
	paint func(string) string // optional styling
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

func plain(texts ...string) []cell {
	out := make([]cell, len(texts))
	for i, s := range texts {
		out[i] = cell{text: s}
	}
	return out
}

func (t *table) write(w io.Writer, indent string, st style) {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
			}
		}
	}
	line := func(cells []cell, head bool) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range cells {
			if i >= len(widths) {
				break
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text))
			text := c.text
			switch {
			case head:
				text = st.dim(text)
			case c.paint != nil:
				text = c.paint(text)
			}
			last := i == len(cells)-1
			if i < len(t.right) && t.right[i] {
				b.WriteString(pad + text)
			} else if last {
				b.WriteString(text)
			} else {
				b.WriteString(text + pad)
			}
			if !last {
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
		io.WriteString(w, b.String())
	}
	line(plain(t.header...), true)
	for _, r := range t.rows {
		line(r, false)
	}
}

// wrapText returns prefix+s with s broken into lines of at most width
// runes; continuation lines start with indent.
func wrapText(prefix, s string, width int, indent string) string {
	var b strings.Builder
	b.WriteString(prefix)
	n := utf8.RuneCountInString(prefix)
	for i, w := range strings.Fields(s) {
		wl := utf8.RuneCountInString(w)
		switch {
		case i > 0 && n+1+wl > width:
			b.WriteString("\n" + indent)
			n = utf8.RuneCountInString(indent)
		case i > 0:
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += wl
	}
	return b.String()
}
