package memtype

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The `memory` console command prints two tables, fixed-size types then variable-size
// ones, in the layout of Momentum's command: names right-aligned in 30 columns, numbers
// right-aligned under their headings, a dashed rule, and a total of current bytes.

var (
	fixedColumns    = []string{"memory type", "buf size", "active objects", "peak objects", "allocd objects", "current bytes"}
	variableColumns = []string{"memory type", "current bytes", "peak bytes", "mmap count/peak/current %"}
)

const nameWidth = 30

// WriteTable writes the `memory` tables for rows, in the order given (Snapshot sorts
// by name). A table with no rows is left out. In the variable table "mmap count/peak/
// current %" gives the type's live raw blocks mapped on their own, the most there were
// at once, and the share of the type's current bytes that they hold. The allocd column
// counts allocations since registration.
func WriteTable(w io.Writer, rows []Stats) error {
	bw := bufio.NewWriter(w)
	var fixed, variable [][]string
	var fixedBytes, variableBytes int64
	for _, s := range rows {
		if s.Kind == Fixed {
			fixed = append(fixed, []string{s.Name, itoa(int64(s.Size)), itoa(s.Active), itoa(s.PeakActive), itoa(s.Allocs), itoa(s.Bytes)})
			fixedBytes += s.Bytes
			continue
		}
		pct := 0.0
		if s.Bytes > 0 {
			pct = 100 * float64(s.MmapBytes) / float64(s.Bytes)
		}
		variable = append(variable, []string{s.Name, itoa(s.Bytes), itoa(s.PeakBytes), fmt.Sprintf("%d/%d/%.1f%%", s.Mmaps, s.PeakMmaps, pct)})
		variableBytes += s.Bytes
	}
	if len(fixed) > 0 {
		writeSection(bw, fixedColumns, fixed, []string{"total", "", "", "", "", itoa(fixedBytes)})
	}
	if len(fixed) > 0 && len(variable) > 0 {
		bw.WriteString("\n")
	}
	if len(variable) > 0 {
		writeSection(bw, variableColumns, variable, []string{"total", itoa(variableBytes), "", ""})
	}
	return bw.Flush()
}

// writeSection writes a heading, the rows, a rule and the total row. Each column is as
// wide as its heading, or its widest value; the name column is nameWidth wide unless a
// longer name widens it, which keeps every row aligned.
func writeSection(w *bufio.Writer, heads []string, rows [][]string, total []string) {
	widths := make([]int, len(heads))
	for i, h := range heads {
		widths[i] = len(h)
	}
	widths[0] = max(widths[0], nameWidth)
	for _, row := range append(rows, total) {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	line := func(cells []string) {
		var sb strings.Builder
		for i, c := range cells {
			if i > 0 {
				sb.WriteString(" | ")
			}
			sb.WriteString(strings.Repeat(" ", max(widths[i]-len(c), 0)))
			sb.WriteString(c)
		}
		// A total row leaves its last cells empty; no trailing blanks on the wire.
		w.WriteString(strings.TrimRight(sb.String(), " |"))
		w.WriteString("\n")
	}
	rule := func() {
		for i, wd := range widths {
			if i > 0 {
				w.WriteString("-+-")
			}
			w.WriteString(strings.Repeat("-", wd))
		}
		w.WriteString("\n")
	}
	line(heads)
	rule()
	for _, row := range rows {
		line(row)
	}
	rule()
	line(total)
}

// WriteMemory writes the `memory` command's output: every type when name is empty,
// otherwise the one type named (`memory <type>`), failing with ErrNoType if there is
// none. Any goroutine may call it.
func (r *Registry) WriteMemory(w io.Writer, name string) error {
	if name == "" {
		return WriteTable(w, r.Snapshot())
	}
	t, ok := r.Lookup(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoType, name)
	}
	return WriteTable(w, []Stats{t.Stats()})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
