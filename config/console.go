package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Session is one console connection's state for the config commands: its
// open transaction, if any. The zero value is ready to use. A Session is used
// by one goroutine at a time.
type Session struct {
	txn *Txn
}

// InTxn reports whether the session has a transaction open.
func (s *Session) InTxn() bool { return s.txn != nil }

// Close rolls back an open transaction; call it when the connection ends.
func (s *Session) Close() {
	if s.txn != nil {
		s.txn.Rollback()
		s.txn = nil
	}
}

// Command runs one "config" console command (args without the word
// "config") for sess and returns the reply text. Errors are returned as
// errors; the console prints their text. Safe from any goroutine, but never
// on the event loop: commit and reload validate the whole configuration.
//
//	get [scopes] opt          the value set in exactly that scope
//	eval [scopes] opt         the value after fallback and default
//	set [scopes] opt [=] val  set (inside a transaction, or committed at once)
//	unset [scopes] [opt]      remove an option, or a whole scope
//	show [scopes]             a scope's options and its child scopes
//	showrecurse [scopes]      the whole stanza
//	locate keyword [regex]    where stanzas of a keyword are
//	begin [from scratch] | commit | rollback | replay
//	reload [path]             re-read the files (not inside a transaction)
//	writeback [path]          write console changes to the files
func (s *Store) Command(sess *Session, args []string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("%w: config get|eval|set|unset|show|showrecurse|locate|begin|commit|rollback|replay|reload|writeback", ErrUsage)
	}
	cmd, rest := strings.ToLower(args[0]), args[1:]
	switch cmd {
	case "get":
		return s.cmdGet(sess, rest)
	case "eval":
		return s.cmdEval(sess, rest)
	case "set":
		return s.cmdSet(sess, rest)
	case "unset":
		return s.cmdUnset(sess, rest)
	case "show", "showrecurse":
		return s.cmdShow(sess, rest, cmd == "showrecurse")
	case "locate":
		return s.cmdLocate(sess, rest)
	case "begin":
		return s.cmdBegin(sess, rest)
	case "commit":
		if sess.txn == nil {
			return "", ErrNoTxn
		}
		txn := sess.txn
		sess.txn = nil
		g, err := txn.Commit()
		if err != nil {
			return "", err
		}
		defer g.Release()
		return commitReply(g, txn), nil
	case "rollback":
		if sess.txn == nil {
			return "", ErrNoTxn
		}
		sess.txn.Rollback()
		sess.txn = nil
		return "Transaction rolled back.", nil
	case "replay":
		if sess.txn == nil {
			return "", ErrNoTxn
		}
		return strings.Join(sess.txn.Replay(), "\n"), nil
	case "reload":
		if sess.txn != nil {
			return "", fmt.Errorf("%w: reload", ErrInTxn)
		}
		if len(rest) > 1 {
			return "", fmt.Errorf("%w: config reload [path]", ErrUsage)
		}
		path := ""
		if len(rest) == 1 {
			path = rest[0]
		}
		g, err := s.Reload(path)
		if err != nil {
			return "", fmt.Errorf("Reconfigure failed: %w", err)
		}
		defer g.Release()
		return fmt.Sprintf("Reconfigured: generation %d.", g.ID()), nil
	case "writeback":
		if len(rest) > 1 {
			return "", fmt.Errorf("%w: config writeback [path]", ErrUsage)
		}
		path := ""
		if len(rest) == 1 {
			path = rest[0]
		}
		return s.Writeback(path)
	}
	return "", fmt.Errorf("%w: unknown config command %q", ErrUsage, args[0])
}

func commitReply(g *Generation, txn *Txn) string {
	msg := fmt.Sprintf("Committed: generation %d.", g.ID())
	for _, w := range txn.Warnings() {
		msg += "\nWarning: " + w
	}
	return msg
}

// splitScopes takes the leading "Keyword [instance]" pairs of args.
func (s *Store) splitScopes(args []string) ([]ScopeRef, []string) {
	var path []ScopeRef
	i := 0
	for i < len(args) {
		defined, named := s.reg.IsScope(args[i])
		if !defined {
			break
		}
		if named {
			if i+1 >= len(args) {
				break
			}
			path = append(path, ScopeRef{Keyword: args[i], Name: args[i+1]})
			i += 2
			continue
		}
		path = append(path, ScopeRef{Keyword: args[i]})
		i++
	}
	return path, args[i:]
}

// view returns the tree and a generation for read commands: the session's
// transaction (built for the occasion) or the current generation. The
// caller releases the generation.
func (s *Store) view(sess *Session) (*Tree, *Generation, error) {
	if sess.txn != nil {
		g, err := s.reg.Build(sess.txn.tree)
		if err != nil {
			return nil, nil, err
		}
		return sess.txn.tree, g, nil
	}
	g := s.Current()
	return g.tree, g, nil
}

// findScope walks the merged view along path.
func findScope(root *Scope, steps []step) *Scope {
	sc := root
	for _, st := range steps {
		sc = sc.Child(st.kw, st.name)
		if sc == nil {
			return nil
		}
	}
	return sc
}

func (s *Store) cmdGet(sess *Session, args []string) (string, error) {
	path, rest := s.splitScopes(args)
	if len(rest) != 1 {
		return "", fmt.Errorf("%w: config get [scopes] option", ErrUsage)
	}
	steps, def, err := s.reg.resolvePath(path, rest[0])
	if err != nil {
		return "", err
	}
	tree, g, err := s.view(sess)
	if err != nil {
		return "", err
	}
	defer g.Release()
	if sc := findScope(tree.Root(), steps); sc != nil {
		if e := sc.Option(def.name); e != nil {
			return def.name + " = " + formatValue(e.Value), nil
		}
	}
	return fmt.Sprintf("Option '%s' is not set in scope '%s'.", def.name, scopePathString(path)), nil
}

// effective returns "Name = value" for def at path in g, after fallback and
// default.
func effective(g *Generation, def *optDef, path []ScopeRef) string {
	if def.index < len(g.states) && g.states[def.index] != nil {
		rs := refSet{extra: path, has: hasExtra}
		if e, ok := g.states[def.index].lookupEntry(g, &rs); ok {
			return def.name + " = " + formatValue(e.Value)
		}
	}
	return def.name + " = " + def.impl.defaultString()
}

func (s *Store) cmdEval(sess *Session, args []string) (string, error) {
	path, rest := s.splitScopes(args)
	if len(rest) != 1 {
		return "", fmt.Errorf("%w: config eval [scopes] option", ErrUsage)
	}
	_, def, err := s.reg.resolvePath(path, rest[0])
	if err != nil {
		return "", err
	}
	_, g, err := s.view(sess)
	if err != nil {
		return "", err
	}
	defer g.Release()
	return effective(g, def, path), nil
}

func (s *Store) cmdSet(sess *Session, args []string) (string, error) {
	path, rest := s.splitScopes(args)
	if len(rest) >= 2 && rest[1] == "=" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 {
		return "", fmt.Errorf("%w: config set [scopes] option [=] value", ErrUsage)
	}
	v, err := valueFromWords(rest[1:])
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	txn := sess.txn
	if txn == nil {
		txn = s.Begin()
		defer txn.Rollback()
	}
	name, err := txn.Set(path, rest[0], v)
	if err != nil {
		return "", err
	}
	if sess.txn == nil {
		g, err := txn.Commit()
		if err != nil {
			return "", err
		}
		g.Release()
	}
	if s.reg.moduleInstance(path) {
		return "Set", nil
	}
	return echo(name, v), nil
}

// valueFromWords reads the value words of `config set` as the console split
// them: quotes already removed, so a word holding a space or a quote was
// quoted by the operator and is one string. One word is the value itself,
// taken literally (`set TimestampFormat "%F "` keeps its trailing space),
// unless it is a whole array or dictionary written without spaces, "(a)".
// Several words are an array or a dictionary: its brackets and "=" stay as
// they are and every other word is quoted as it needs, so "b c" stays one
// item; a form that does not read that way (an array written "(a b)", whose
// words carry the parentheses) is read as the words joined.
func valueFromWords(words []string) (Value, error) {
	if len(words) == 1 {
		w := words[0]
		if n := len(w); n >= 2 && (w[0] == '(' && w[n-1] == ')' || w[0] == '[' && w[n-1] == ']') {
			if v, err := ParseValue(w); err == nil {
				return v, nil
			}
		}
		return Scalar(w), nil
	}
	parts := make([]string, len(words))
	for i, w := range words {
		switch w {
		case "(", ")", "[", "]", "=":
			parts[i] = w
		default:
			parts[i] = formatScalar(Scalar(w))
		}
	}
	v, err := ParseValue(strings.Join(parts, " "))
	if err == nil {
		return v, nil
	}
	if raw, rawErr := ParseValue(strings.Join(words, " ")); rawErr == nil {
		return raw, nil
	}
	return Value{}, err
}

func keywords(path []ScopeRef) []string {
	out := make([]string, len(path))
	for i, r := range path {
		out[i] = r.Keyword
	}
	return out
}

// echo formats the reply to set: "Opt = value", an array one item per line.
func echo(name string, v Value) string {
	if v.Kind != ArrayValue {
		return name + " = " + formatValue(v)
	}
	var b strings.Builder
	b.WriteString(name + " = (\n")
	for _, it := range v.Items {
		b.WriteString("    " + formatScalar(it) + "\n")
	}
	b.WriteString("  )")
	return b.String()
}

func (s *Store) cmdUnset(sess *Session, args []string) (string, error) {
	path, rest := s.splitScopes(args)
	if len(rest) > 1 {
		return "", fmt.Errorf("%w: config unset [scopes] [option]", ErrUsage)
	}
	name := ""
	if len(rest) == 1 {
		name = rest[0]
	}
	txn := sess.txn
	if txn == nil {
		txn = s.Begin()
		defer txn.Rollback()
	}
	canon, err := txn.Unset(path, name)
	if err != nil {
		return "", err
	}
	if name == "" {
		if sess.txn == nil {
			g, err := txn.Commit()
			if err != nil {
				return "", err
			}
			g.Release()
		}
		return fmt.Sprintf("Scope '%s' has been unset.", scopePathString(path)), nil
	}
	var g *Generation
	if sess.txn == nil {
		if g, err = txn.Commit(); err != nil {
			return "", err
		}
	} else if g, err = s.reg.Build(txn.tree); err != nil {
		return "", err
	}
	defer g.Release()
	_, def, err := s.reg.resolvePath(path, canon)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%q has been unset. Effective value is now:\n\t%s", canon, effective(g, def, path)), nil
}

func (s *Store) cmdShow(sess *Session, args []string, recurse bool) (string, error) {
	path, rest := s.splitScopes(args)
	if len(rest) != 0 {
		return "", fmt.Errorf("%w: config show [scopes]", ErrUsage)
	}
	steps, _, err := s.reg.resolvePath(path, "")
	if err != nil {
		return "", err
	}
	tree, g, err := s.view(sess)
	if err != nil {
		return "", err
	}
	defer g.Release()
	sc := findScope(tree.Root(), steps)
	if sc == nil {
		return "", fmt.Errorf("%w: scope '%s' is not defined", ErrUnknownScope, scopePathString(path))
	}
	p := printer{canon: s.reg.canonical, path: keywords(path)}
	if recurse && len(path) > 0 {
		p.scope(sc, true)
		return strings.TrimSuffix(p.b.String(), "\n"), nil
	}
	p.scopeBody(sc, recurse)
	return strings.TrimSuffix(p.b.String(), "\n"), nil
}

// scope prints a merged scope as a stanza.
func (p *printer) scope(sc *Scope, recurse bool) {
	p.pad()
	p.b.WriteString(p.canon(p.path, sc.Keyword, true))
	if sc.Named {
		p.b.WriteString(" " + quote(sc.Name))
	}
	if !recurse {
		p.b.WriteString(" { ... }\n")
		return
	}
	if len(sc.Options) == 0 && len(sc.Children) == 0 {
		p.b.WriteString(" {}\n")
		return
	}
	p.b.WriteString(" {\n")
	p.path = append(p.path, sc.Keyword)
	p.indent++
	p.scopeBody(sc, true)
	p.indent--
	p.path = p.path[:len(p.path)-1]
	p.pad()
	p.b.WriteString("}\n")
}

func (p *printer) scopeBody(sc *Scope, recurse bool) {
	for _, e := range sc.Options {
		p.entry(e)
	}
	for _, c := range sc.Children {
		p.scope(c, recurse)
	}
}

func (s *Store) cmdLocate(sess *Session, args []string) (string, error) {
	if len(args) < 1 || len(args) > 2 {
		return "", fmt.Errorf("%w: config locate scope [regex]", ErrUsage)
	}
	var re *regexp.Regexp
	if len(args) == 2 {
		var err error
		if re, err = regexp.Compile(args[1]); err != nil {
			return "", fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	tree, g, err := s.view(sess)
	if err != nil {
		return "", err
	}
	defer g.Release()
	var b strings.Builder
	var walk func(sc *Scope, path []string)
	walk = func(sc *Scope, path []string) {
		for _, c := range sc.Children {
			kw := s.reg.canonical(nil, c.Keyword, true)
			elem := kw + ":" + strings.ReplaceAll(c.Name, ":", `\:`)
			cp := append(path[:len(path):len(path)], elem)
			if strings.EqualFold(c.Keyword, args[0]) && (re == nil || re.MatchString(c.Name)) {
				b.WriteString(kw)
				if c.Named {
					b.WriteString(" " + quote(c.Name))
				}
				b.WriteString("\n  is at " + strings.Join(cp, ":") + ":\n")
			}
			walk(c, cp)
		}
	}
	walk(tree.Root(), nil)
	if b.Len() == 0 {
		return fmt.Sprintf("No scope '%s' found.", args[0]), nil
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (s *Store) cmdBegin(sess *Session, args []string) (string, error) {
	if sess.txn != nil {
		return "", fmt.Errorf("%w: a transaction is already open", ErrInTxn)
	}
	switch {
	case len(args) == 0:
		sess.txn = s.Begin()
	case len(args) == 2 && strings.EqualFold(args[0], "from") && strings.EqualFold(args[1], "scratch"):
		sess.txn = s.BeginFromScratch()
	default:
		return "", fmt.Errorf("%w: config begin [from scratch]", ErrUsage)
	}
	return "Transaction started.", nil
}
