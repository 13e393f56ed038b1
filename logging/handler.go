package logging

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
)

// TagKey is the attribute key that sets a line's tag: a Logger made with
// With(TagKey, "scriptlet") logs as "scriptlet". "module" is the key the module
// system uses for each module's logger, so a module's lines carry its name and are
// filtered by its debug_level.
const TagKey = "module"

// Handler is a slog.Handler that writes records to a Paniclog: the message and the
// attributes as key=value pairs after it, at the level FromSlog gives, under the tag
// set with TagKey (or the handler's default tag). Make one with Paniclog.Handler.
type Handler struct {
	p      *Paniclog
	tag    string
	attrs  string // preformatted " k=v" pairs from WithAttrs
	prefix string // group prefix for keys, "g." per open group
}

var _ slog.Handler = (*Handler)(nil)

// Handler returns a slog handler writing to p under tag (CoreTag when empty).
func (p *Paniclog) Handler(tag string) *Handler {
	return &Handler{p: p, tag: orCore(tag)}
}

// Logger returns a slog.Logger writing to p under tag.
func (p *Paniclog) Logger(tag string) *slog.Logger { return slog.New(p.Handler(tag)) }

// Enabled reports whether the handler's tag logs at level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return h.p.Enabled(h.tag, FromSlog(level))
}

// Handle writes r.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	tag := h.tag
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && a.Key == TagKey {
			tag = a.Value.String()
			return true
		}
		appendAttr(&b, h.prefix, a)
		return true
	})
	h.p.Log(FromSlog(r.Level), tag, b.String())
	return nil
}

// WithAttrs returns a handler that adds attrs to every line; a TagKey attribute at
// the top level sets the tag instead.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		if h.prefix == "" && a.Key == TagKey {
			n.tag = orCore(a.Value.String())
			continue
		}
		appendAttr(&b, h.prefix, a)
	}
	n.attrs = b.String()
	return &n
}

// WithGroup returns a handler that qualifies later keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := a.Value.String()
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}
