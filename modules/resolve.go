package modules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
)

// unit is one module instance a configuration asks for.
type unit struct {
	e        *entry
	instance string // "" for a singleton
	pos      config.Pos
	how      string // why it is loaded, for errors and dry runs
	explicit bool
	sig      string // its configuration, to tell a reconfigured instance
}

func (u *unit) label() string { return label(u.e.name, u.instance) }

// plan is the resolved module list of a configuration tree: the instances to
// load in load order, and every problem found.
type plan struct {
	tree  *config.Tree
	units []unit
	errs  []error
}

// resolveLocked works out which modules tree needs and in what order:
//
//   - explicit: a top-level stanza whose keyword is a catalogued module;
//   - implicit: an option that some module's msys.provides lists, used at the
//     matching scope (the first usable provider is loaded, empty stanza);
//   - kept: a singleton whose hooks are in a committed registry stays for the
//     life of the process, since those registrations cannot be withdrawn;
//   - required: msys.requires, transitively, each before its dependants.
//
// Independent modules load in the order they first appear in the files
// (file load order, then line and column); a module's instances load
// together, in file order. m.mu must be held.
func (m *Manager) resolveLocked(tree *config.Tree) *plan {
	p := &plan{tree: tree}
	root := tree.Root()
	fileIdx := map[string]int{}
	for i, f := range tree.Files {
		if _, ok := fileIdx[f.Path]; !ok {
			fileIdx[f.Path] = i
		}
	}
	var roots []unit

	// Explicit stanzas.
	for _, sc := range root.Children {
		e := m.entries[strings.ToLower(sc.Keyword)]
		if e == nil {
			continue // a core scope, or unknown: validation reports it
		}
		if e.info == nil {
			p.errs = append(p.errs, fmt.Errorf("%s: stanza %s: %w", sc.Pos, sc.Keyword, e.missingErr()))
			continue
		}
		if e.setupErr != nil {
			p.errs = append(p.errs, fmt.Errorf("%s: stanza %s: %w", sc.Pos, sc.Keyword, e.setupErr))
			continue
		}
		switch {
		case e.info.Singleton && sc.Named:
			p.errs = append(p.errs, fmt.Errorf("%s: %w: %s is a singleton module: its stanza takes no instance name (found %q)", sc.Pos, ErrStanza, e.name, sc.Name))
			continue
		case !e.info.Singleton && !sc.Named:
			p.errs = append(p.errs, fmt.Errorf("%s: %w: %s is not a singleton: its stanza needs an instance name (%s \"name\" { })", sc.Pos, ErrStanza, e.name, e.name))
			continue
		}
		roots = append(roots, unit{e: e, instance: sc.Name, pos: sc.Pos, how: "stanza at " + sc.Pos.String(), explicit: true, sig: scopeSig(sc)})
	}

	// Implicit loading from msys.provides, and each module's provided values
	// for its signature.
	provSig := map[*entry]*strings.Builder{}
	var walk func(s *config.Scope, path []string)
	walk = func(s *config.Scope, path []string) {
		norm := normScopes(path)
		for _, opt := range s.Options {
			cands := m.provides[strings.ToLower(opt.Key)]
			if len(cands) == 0 {
				continue
			}
			var chosen *entry
			var unusable []string
			for _, c := range cands {
				if !samePath(c.path, norm) {
					continue
				}
				if !c.e.usable() {
					unusable = append(unusable, c.e.name)
					continue
				}
				chosen = c.e
				break
			}
			if chosen == nil {
				if len(unusable) > 0 {
					p.errs = append(p.errs, fmt.Errorf("%s: option %s: %w: every module providing it cannot load: %s", opt.Pos, opt.Key, ErrMissing, strings.Join(unusable, ", ")))
				}
				continue
			}
			sb := provSig[chosen]
			if sb == nil {
				sb = &strings.Builder{}
				provSig[chosen] = sb
			}
			fmt.Fprintf(sb, "%s/%s=%s;", strings.Join(scopeNames(s), "/"), strings.ToLower(opt.Key), valueSig(opt.Value))
			inst := ""
			if !chosen.info.Singleton {
				inst = chosen.name
			}
			roots = append(roots, unit{e: chosen, instance: inst, pos: opt.Pos, how: fmt.Sprintf("implicit: %s at %s", opt.Key, opt.Pos)})
		}
		for _, c := range s.Children {
			walk(c, append(path[:len(path):len(path)], c.Keyword))
		}
	}
	walk(root, nil)

	sort.SliceStable(roots, func(i, j int) bool {
		a, b := roots[i].pos, roots[j].pos
		if fa, fb := fileIdx[a.File], fileIdx[b.File]; fa != fb {
			return fa < fb
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})

	// Kept singletons go last: nothing in this configuration names them.
	named := map[*entry]bool{}
	for _, r := range roots {
		named[r.e] = true
	}
	for _, e := range m.order {
		if e.hooksCommitted && !named[e] && e.usable() {
			roots = append(roots, unit{e: e, how: "kept: a singleton stays loaded for the life of the process"})
			named[e] = true
		}
	}

	// Group by module, first appearance first; an explicit instance of a
	// non-singleton satisfies implicit uses, which then add no instance.
	var mods []*entry
	byMod := map[*entry][]unit{}
	for _, r := range roots {
		if _, ok := byMod[r.e]; !ok {
			mods = append(mods, r.e)
		}
		byMod[r.e] = append(byMod[r.e], r)
	}
	for e, us := range byMod {
		byMod[e] = dedupe(us)
	}

	// Dependencies, depth first; a module is emitted after its requirements.
	const (
		unseen = iota
		visiting
		done
	)
	state := map[*entry]int{}
	var stack []string
	var visit func(e *entry, requiredBy string) bool
	visit = func(e *entry, requiredBy string) bool {
		switch state[e] {
		case done:
			return true
		case visiting:
			i := 0
			for i < len(stack) && !strings.EqualFold(stack[i], e.name) {
				i++
			}
			chain := append(append([]string(nil), stack[i:]...), e.name)
			p.errs = append(p.errs, fmt.Errorf("%w: %s", ErrCycle, strings.Join(chain, " -> ")))
			return false
		}
		state[e] = visiting
		stack = append(stack, e.name)
		defer func() { stack = stack[:len(stack)-1] }()
		ok := true
		if e.found != nil {
			for _, dep := range e.found.Requires {
				de := m.entries[strings.ToLower(dep)]
				chain := strings.Join(append(append([]string(nil), stack...), dep), " -> ")
				switch {
				case de == nil:
					p.errs = append(p.errs, fmt.Errorf("%w: %s (requires %s, which no loader or manifest knows)", ErrMissing, chain, dep))
					ok = false
					continue
				case de.info == nil:
					p.errs = append(p.errs, fmt.Errorf("%w: %s: %v", ErrMissing, chain, de.openErr))
					ok = false
					continue
				case de.setupErr != nil:
					p.errs = append(p.errs, fmt.Errorf("%s: %w", chain, de.setupErr))
					ok = false
					continue
				}
				if !visit(de, e.name) {
					ok = false
				}
			}
		}
		state[e] = done
		us := byMod[e]
		if len(us) == 0 {
			inst := ""
			if !e.info.Singleton {
				inst = e.name
			}
			us = []unit{{e: e, instance: inst, how: "required by " + requiredBy}}
		}
		for i := range us {
			if !us[i].explicit {
				us[i].sig = ""
			}
			if sb := provSig[e]; sb != nil {
				us[i].sig += "|" + sb.String()
			}
		}
		p.units = append(p.units, us...)
		return ok
	}
	for _, e := range mods {
		visit(e, "")
	}
	return p
}

// dedupe drops repeated instances of one module (a singleton named by its
// stanza and by provided options loads once), and implicit instances of a
// non-singleton that has explicit ones.
func dedupe(us []unit) []unit {
	hasExplicit := false
	for _, u := range us {
		hasExplicit = hasExplicit || u.explicit
	}
	seen := map[string]int{}
	var out []unit
	for _, u := range us {
		if hasExplicit && !u.explicit && !u.e.info.Singleton {
			continue
		}
		if i, ok := seen[u.instance]; ok {
			if u.explicit && !out[i].explicit {
				out[i] = u
			}
			continue
		}
		seen[u.instance] = len(out)
		out = append(out, u)
	}
	return out
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// scopeNames gives the keywords and names from the top down to s.
func scopeNames(s *config.Scope) []string {
	var out []string
	for _, r := range s.Path() {
		out = append(out, strings.ToLower(r.Keyword)+" "+r.Name)
	}
	return out
}

// scopeSig renders a stanza, children included, as a string that changes
// whenever an effective option in it does.
func scopeSig(s *config.Scope) string {
	var b strings.Builder
	var rec func(s *config.Scope)
	rec = func(s *config.Scope) {
		b.WriteString("{")
		for _, o := range s.Options {
			fmt.Fprintf(&b, "%s=%s;", strings.ToLower(o.Key), valueSig(o.Value))
		}
		for _, c := range s.Children {
			fmt.Fprintf(&b, "%s %s", strings.ToLower(c.Keyword), strconv.Quote(c.Name))
			rec(c)
		}
		b.WriteString("}")
	}
	rec(s)
	return b.String()
}

func valueSig(v config.Value) string {
	switch v.Kind {
	case config.ArrayValue:
		parts := make([]string, len(v.Items))
		for i, it := range v.Items {
			parts[i] = valueSig(it)
		}
		return "(" + strings.Join(parts, " ") + ")"
	case config.DictValue:
		parts := make([]string, len(v.Pairs))
		for i, pr := range v.Pairs {
			parts[i] = strconv.Quote(pr.Key) + "=" + valueSig(pr.Value)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return strconv.Quote(v.Text)
}
