package output

import (
	"strings"
	"unicode/utf8"
)

// table lays out columns: names left, numbers right.
type table struct {
	header []string
	right  []bool // per column: right-aligned
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder, indent string) {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		if len(r) < len(t.header) && len(r) > 1 {
			// A short row's cells run free after the first column.
			widths[0] = max(widths[0], utf8.RuneCountInString(r[0]))
			continue
		}
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) {
		if len(cells) < len(t.header) && len(cells) > 1 {
			first := cells[0] + strings.Repeat(" ", widths[0]-utf8.RuneCountInString(cells[0]))
			b.WriteString(indent + first + "  " + strings.Join(cells[1:], "  ") + "\n")
			return
		}
		var l strings.Builder
		l.WriteString(indent)
		for i, w := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", w-utf8.RuneCountInString(c))
			if i > 0 {
				l.WriteString("  ")
			}
			if t.right[i] {
				l.WriteString(pad + c)
			} else {
				l.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
}

// Header and Rows are for the HTML template.
func (t *table) Header() []string { return t.header }
func (t *table) Rows() [][]string { return t.rows }
