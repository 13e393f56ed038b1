package logging

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RecentPerLevel is how many entries of each level the paniclog keeps in memory for
// the console's `paniclog` command.
const RecentPerLevel = 10

// CoreTag is the tag of the server's own lines.
const CoreTag = "ecelerity"

// DefaultCoreLevel is the least severe level of the server's own lines written when
// Debug_Flags enables nothing lower: NOTICE, so that start-up, reloads and shutdown
// are on record while routine detail is not.
const DefaultCoreLevel = Notice

// DefaultModuleLevel is a module's `debug_level` default.
const DefaultModuleLevel = Error

// Entry is one paniclog line.
type Entry struct {
	Time  time.Time
	Level Level
	Tag   string
	Text  string
	seq   uint64 // order of logging, to merge the per-level rings
}

// filter decides which lines are written. It is replaced whole, never modified, so
// that Log reads it without a lock.
type filter struct {
	core    Level
	modules map[string]Level // by lower-case tag
}

// PaniclogOptions configure a Paniclog. The zero value logs NOTICE and above of the
// core, ERROR and above of every module, to no file and not to stderr.
type PaniclogOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Stderr, when set, receives a copy of every line prefixed with the
	// TimestampFormat: the foreground (-d) mode.
	Stderr io.Writer
	// TimestampFormat is the stderr prefix (see Strftime); "" means
	// DefaultTimestampFormat.
	TimestampFormat string
}

// Paniclog is the server's diagnostic log; see the package comment. Create it with
// NewPaniclog. Every method may be called from any goroutine.
type Paniclog struct {
	now    func() time.Time
	filter atomic.Pointer[filter]
	file   atomic.Pointer[logFile] // nil: no file configured
	errs   atomic.Uint64           // failed file writes

	// mu guards recent, seq, stderr and tsFormat, and orders stderr lines.
	mu       sync.Mutex
	recent   [numLevels]ring
	seq      uint64
	stderr   io.Writer
	tsFormat string
}

// ring holds the last RecentPerLevel entries of one level.
type ring struct {
	buf  [RecentPerLevel]Entry
	next int
	full bool
}

func (r *ring) add(e Entry) {
	r.buf[r.next] = e
	r.next = (r.next + 1) % RecentPerLevel
	if r.next == 0 {
		r.full = true
	}
}

func (r *ring) entries() []Entry {
	if r.full {
		return append(slices.Clone(r.buf[r.next:]), r.buf[:r.next]...)
	}
	return slices.Clone(r.buf[:r.next])
}

// NewPaniclog returns a paniclog configured by opts.
func NewPaniclog(opts PaniclogOptions) *Paniclog {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TimestampFormat == "" {
		opts.TimestampFormat = DefaultTimestampFormat
	}
	p := &Paniclog{now: opts.Now, stderr: opts.Stderr, tsFormat: opts.TimestampFormat}
	p.filter.Store(&filter{core: DefaultCoreLevel})
	return p
}

// SetLevels sets the least severe level written for the core's lines and for each
// module's (by tag, any case); a tag not in modules is filtered at core's level if it
// is CoreTag or unknown to modules, which covers the framework's own packages.
// The map is copied.
func (p *Paniclog) SetLevels(core Level, modules map[string]Level) {
	f := &filter{core: core, modules: make(map[string]Level, len(modules))}
	for k, v := range modules {
		f.modules[strings.ToLower(k)] = v
	}
	p.filter.Store(f)
}

// SetTimestampFormat sets the prefix of stderr lines; "" restores the default.
func (p *Paniclog) SetTimestampFormat(format string) {
	if format == "" {
		format = DefaultTimestampFormat
	}
	p.mu.Lock()
	p.tsFormat = format
	p.mu.Unlock()
}

// SetStderr sets (or, with nil, stops) the foreground copy of every line.
func (p *Paniclog) SetStderr(w io.Writer) {
	p.mu.Lock()
	p.stderr = w
	p.mu.Unlock()
}

// setFile points the paniclog at f (nil: no file). Logs calls it.
func (p *Paniclog) setFile(f *logFile) { p.file.Store(f) }

// HasFile reports whether a paniclog file is configured.
func (p *Paniclog) HasFile() bool { return p.file.Load() != nil }

// WriteErrors returns how many writes to the file failed (a full disk, a closed file).
func (p *Paniclog) WriteErrors() uint64 { return p.errs.Load() }

// Enabled reports whether a line of level l with tag would be written.
func (p *Paniclog) Enabled(tag string, l Level) bool {
	f := p.filter.Load()
	if lvl, ok := f.modules[strings.ToLower(tag)]; ok {
		return l >= lvl
	}
	return l >= f.core
}

// Log writes text at level l under tag (CoreTag when empty), if the filter lets it
// through: to the file as `<unix time>:<tag>: text`, to stderr in the foreground,
// and to the in-memory ring of its level. A multi-line text becomes several lines with
// the same header, so that every line of the file can be parsed alone.
func (p *Paniclog) Log(l Level, tag, text string) {
	if tag == "" {
		tag = CoreTag
	}
	if l >= numLevels {
		l = Critical
	}
	if !p.Enabled(tag, l) {
		return
	}
	now := p.now()
	text = strings.TrimRight(text, "\n")
	head := strconv.FormatInt(now.Unix(), 10) + ":" + tag + ": "
	var line strings.Builder
	for part := range strings.SplitSeq(text, "\n") {
		line.WriteString(head)
		line.WriteString(part)
		line.WriteByte('\n')
	}
	if err := writeVia(&p.file, []byte(line.String())); err != nil {
		p.errs.Add(1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	p.recent[l].add(Entry{Time: now, Level: l, Tag: tag, Text: text, seq: p.seq})
	if p.stderr != nil {
		prefix := Strftime(p.tsFormat, now)
		var b strings.Builder
		for part := range strings.SplitSeq(text, "\n") {
			b.WriteString(prefix)
			b.WriteString(tag)
			b.WriteString(": ")
			b.WriteString(part)
			b.WriteByte('\n')
		}
		io.WriteString(p.stderr, b.String())
	}
}

// Logf is Log with a format.
func (p *Paniclog) Logf(l Level, tag, format string, args ...any) {
	if p.Enabled(orCore(tag), l) {
		p.Log(l, tag, fmt.Sprintf(format, args...))
	}
}

func orCore(tag string) string {
	if tag == "" {
		return CoreTag
	}
	return tag
}

// Recent returns the in-memory entries, at most RecentPerLevel of each level, in the
// order they were logged.
func (p *Paniclog) Recent() []Entry {
	p.mu.Lock()
	var out []Entry
	for i := range p.recent {
		out = append(out, p.recent[i].entries()...)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// WriteRecent writes Recent as the console's `paniclog` command shows it, one entry a
// line: `[Sun 30 Nov 2003 10:31:37] [serious] tag: text`, continuation lines of a
// multi-line text indented by a tab.
func (p *Paniclog) WriteRecent(w io.Writer) error {
	var b strings.Builder
	for _, e := range p.Recent() {
		b.WriteString(Strftime(consoleFormat, e.Time))
		b.WriteString(" [")
		b.WriteString(e.Level.Word())
		b.WriteString("] ")
		b.WriteString(e.Tag)
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(e.Text, "\n", "\n\t"))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
