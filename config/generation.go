package config

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/internal/refcount"
)

// Generation is one committed (or about to be committed) configuration: the
// Tree it came from and every option's typed values, resolved for fetching.
// A Generation never changes once built. It is reference counted: whoever
// holds it (Store.Current, Acquire) sees the same values however many newer
// generations commit, and must Release it. When a superseded generation's
// last reference goes, its OnRetire callbacks run, then each option's
// Datafree for the values it holds.
type Generation struct {
	id      uint64
	tree    *Tree
	created time.Time
	states  []optState // by option index; nil when the option is not set

	bindingGroup map[string]string // binding name -> binding_group name
	pathwayGroup map[string]string // pathway name -> pathway_group name
	containers   map[containerKey]*container
	// domainIDs and hostIDs number the lower-case names of every exact
	// Domain and Host stanza, wherever it is; chains with byID keep their
	// values by these numbers as well. A name that is not here has no exact
	// stanza, so such chains hold nothing for it.
	domainIDs map[string]int32
	hostIDs   map[string]int32

	refs       refcount.Count
	superseded atomic.Bool

	// mu guards onRetire and retired.
	mu       sync.Mutex
	onRetire []func()
	retired  bool
}

// containerKey names the Domain or Host stanzas of one container: the chain
// path ending in the domain/host keyword and the instance names above it.
type containerKey struct {
	path   string
	prefix string
}

// container indexes the Domain or Host stanzas of one container, for regex
// resolution.
type container struct {
	exact map[string]struct{} // lower-case names of exact stanzas
	regex []regexStanza       // in file order
}

type regexStanza struct {
	text string // the name as written, /.../ included
	re   *regexp.Regexp
}

// ID returns the generation number; each commit adds one.
func (g *Generation) ID() uint64 { return g.id }

// Tree returns the tree the generation was built from. It must not be
// modified.
func (g *Generation) Tree() *Tree { return g.tree }

// Created returns when the generation was built.
func (g *Generation) Created() time.Time { return g.created }

// Refs returns the current reference count (for the generations listing).
func (g *Generation) Refs() int64 { return g.refs.Load() }

// Superseded reports whether a newer generation has been committed.
func (g *Generation) Superseded() bool { return g.superseded.Load() }

// Acquire adds a reference. Only a holder of a reference may call it (to
// hand the generation to another goroutine); any goroutine.
func (g *Generation) Acquire() *Generation {
	g.refs.Acquire("config")
	return g
}

// tryAcquire adds a reference unless the generation has already retired.
func (g *Generation) tryAcquire() bool { return g.refs.TryAcquire() }

// Release drops a reference. The last release of a generation that is no
// longer current (or never committed) retires it on the calling goroutine.
func (g *Generation) Release() {
	if g.refs.Release("config") {
		g.retire()
	}
}

// OnRetire registers f to run when the generation retires: after it has been
// superseded and its last reference released (or when a transaction that
// built it is rejected). Callbacks run in registration order, before
// Datafree, on the goroutine that releases the last reference. The caller
// must hold a reference.
func (g *Generation) OnRetire(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onRetire = append(g.onRetire, f)
}

func (g *Generation) retire() {
	g.mu.Lock()
	if g.retired {
		g.mu.Unlock()
		return
	}
	g.retired = true
	fs := g.onRetire
	g.onRetire = nil
	g.mu.Unlock()
	for _, f := range fs {
		f()
	}
	for _, st := range g.states {
		if st != nil {
			st.free()
		}
	}
}

// Retired reports whether the generation has retired.
func (g *Generation) Retired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.retired
}

// Flags of refSet.has.
const (
	hasBinding uint8 = 1 << iota
	hasDomain
	hasHost
	hasPathway
	hasModule
	hasExtra
)

// refSet is the scopes a fetch asks about. It lives on the caller's stack
// and is kept small, since every fetch fills one in: no fetch function takes
// both a binding and a pathway (or a module), nor both a domain and a host,
// so each pair shares a field and the has flags say which it is.
type refSet struct {
	has uint8
	// upper records whether domain and host need lower-casing, worked out
	// on first need: a fetch that finds its value before any domain level
	// never scans the name.
	upper uint8
	// domainNum and hostNum cache number's answer for the domain and the
	// host name; 0 means not asked yet.
	domainNum int32
	hostNum   int32
	outer     string // the binding, pathway or module instance
	inner     string // the domain or host
	extra     []ScopeRef
}

// Flags of refSet.upper.
const (
	domainChecked uint8 = 1 << iota
	domainUpper
	hostChecked
	hostUpper
)

// number returns 1 + the number (Generation.domainIDs) of the caller's name
// for e, a Domain or Host level, or -1 when the caller gives no name or no
// exact stanza has it. lookup asks once per fetch and keeps the answer in
// domainNum or hostNum, however many chains need it.
func (rs *refSet) number(g *Generation, e *elem) int32 {
	var name string
	var ok bool
	ids := g.domainIDs
	switch {
	case rs.has&hasExtra != 0:
		name, ok = rs.extraName(g, e)
		if e.kind == kindHost {
			ids = g.hostIDs
		}
	case e.kind == kindHost:
		name, ok, ids = rs.inner, rs.has&hasHost != 0, g.hostIDs
	default:
		name, ok = rs.inner, rs.has&hasDomain != 0
	}
	if !ok {
		return -1
	}
	// Names are usually written in lower case: look up first, scan for
	// upper case only on a miss.
	if id, ok := ids[name]; ok {
		return id + 1
	}
	if !hasUpper(name) {
		return -1
	}
	var lower []byte
	if len(name) <= 128 {
		var buf [128]byte
		lower = appendLower(buf[:0], name)
	} else {
		lower = appendLower(make([]byte, 0, len(name)), name)
	}
	if id, ok := ids[string(lower)]; ok { // no allocation
		return id + 1
	}
	return -1
}

// name returns the instance name for level i (elem e) of a chain, and
// whether the caller's scopes supply it.
func (rs *refSet) name(g *Generation, i int, e *elem) (string, bool) {
	if rs.has&hasExtra != 0 {
		return rs.extraName(g, e)
	}
	switch e.kind {
	case kindBinding:
		return rs.outer, rs.has&hasBinding != 0
	case kindBindingGroup:
		if rs.has&hasBinding == 0 {
			return "", false
		}
		grp, ok := g.bindingGroup[rs.outer]
		return grp, ok
	case kindDomain:
		return rs.inner, rs.has&hasDomain != 0
	case kindHost:
		return rs.inner, rs.has&hasHost != 0
	case kindPathway:
		return rs.outer, rs.has&hasPathway != 0
	case kindPathwayGroup:
		if rs.has&hasPathway == 0 {
			return "", false
		}
		grp, ok := g.pathwayGroup[rs.outer]
		return grp, ok
	}
	if !e.named {
		return "", true
	}
	if i == 0 && rs.has&hasModule != 0 {
		return rs.outer, true
	}
	return "", false
}

func (rs *refSet) extraName(g *Generation, e *elem) (string, bool) {
	for _, r := range rs.extra {
		if strings.EqualFold(r.Keyword, e.canon) {
			return r.Name, true
		}
	}
	switch e.kind {
	case kindBindingGroup:
		for _, r := range rs.extra {
			if strings.EqualFold(r.Keyword, "binding") {
				grp, ok := g.bindingGroup[r.Name]
				return grp, ok
			}
		}
	case kindPathwayGroup:
		for _, r := range rs.extra {
			if strings.EqualFold(r.Keyword, "pathway") {
				grp, ok := g.pathwayGroup[r.Name]
				return grp, ok
			}
		}
	}
	return "", !e.named
}

// key appends chain c's instance names, joined by NUL, to buf. Domain and
// host names are lower-cased while copying (DNS names compare without case).
// last is the offset of the last name.
func (rs *refSet) key(g *Generation, c *chain, buf []byte) (key []byte, last int, ok bool) {
	first := true
	for i := range c.elems {
		e := &c.elems[i]
		name, ok := rs.name(g, i, e)
		if !ok {
			return nil, 0, false
		}
		if !e.named {
			continue
		}
		if !first {
			buf = append(buf, 0)
		}
		first = false
		last = len(buf)
		if rs.needsLower(e, name) {
			buf = appendLower(buf, name)
		} else {
			buf = append(buf, name...)
		}
	}
	return buf, last, true
}

// needsLower reports whether name, the instance name of level e, must be
// lower-cased before lookup.
func (rs *refSet) needsLower(e *elem, name string) bool {
	switch {
	case e.kind == kindDomain && rs.has&hasExtra == 0:
		if rs.upper&domainChecked == 0 {
			rs.upper |= domainChecked
			if hasUpper(name) {
				rs.upper |= domainUpper
			}
		}
		return rs.upper&domainUpper != 0
	case e.kind == kindHost && rs.has&hasExtra == 0:
		if rs.upper&hostChecked == 0 {
			rs.upper |= hostChecked
			if hasUpper(name) {
				rs.upper |= hostUpper
			}
		}
		return rs.upper&hostUpper != 0
	case e.kind == kindDomain || e.kind == kindHost:
		return hasUpper(name)
	}
	return false
}

func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// isRegexName reports whether a Domain or Host name is a /regex/.
func isRegexName(name string) bool {
	return len(name) >= 2 && name[0] == '/' && name[len(name)-1] == '/'
}

func hasUpper(s string) bool {
	// Eight bytes at a time: this scan is on every domain fetch that misses.
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if s[i]-'A' < 26 {
				return true
			}
		}
		return false
	}
	for i := 0; i+8 < len(s); i += 8 {
		if upperIn(load64(s[i : i+8])) {
			return true
		}
	}
	// The last eight bytes, overlapping the words above: no byte loop.
	return upperIn(load64(s[len(s)-8:]))
}

// upperIn reports whether any byte of w is an ASCII upper-case letter.
func upperIn(w uint64) bool {
	const (
		low7 = 0x7f7f7f7f7f7f7f7f
		high = 0x8080808080808080
		geA  = 0x3f3f3f3f3f3f3f3f // 0x80 - 'A': sets bit 7 of bytes >= 'A'
		gtZ  = 0x2525252525252525 // 0x80 - ('Z'+1): sets bit 7 of bytes > 'Z'
	)
	w7 := w & low7 // no carries between bytes in the additions below
	return (w7+geA)&^(w7+gtZ)&high&^w != 0
}

// load64 reads eight bytes little-endian; the compiler makes it one load.
func load64(b string) uint64 {
	_ = b[7] // one bounds check instead of eight
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
