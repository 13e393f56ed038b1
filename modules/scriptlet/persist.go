package scriptlet

import (
	"fmt"
	"sort"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// Persistent state (msys.state) follows the reload-evolution pattern: a table that outlives
// reloads carries a version; a new script's migrations run from the stored version to its
// own, each logged; a script older than the stored state refuses to load.
//
// The table lives in Go, not in a Lua state, because a generation has many states (one per
// concurrent call) and they must all see one table: Lua gets a proxy whose reads and
// writes go to the Go table under its lock. Values are nil, booleans, numbers, strings and
// tables (copied in when assigned; a nested table read back is a proxy of the stored one).
//
// A migration works on a copy: the generation being built migrates its own copy, which
// replaces the stored table only when the generation commits, so a rejected reload leaves
// the stored state as it was. Writes the old scripts make between that copy and the commit
// are not carried over.

// persisted is one named persistent table with its version.
type persisted struct {
	version int
	root    *pnode
}

// pnode is one table of a persistent state; mu is its root's lock, shared by every
// nested table, and guards m.
type pnode struct {
	mu *sync.Mutex
	m  map[pkey]pval
}

type pkey struct {
	s   string
	n   float64
	num bool
}

type pval struct {
	kind Kind // NilKind is never stored
	num  float64
	str  string
	node *pnode
}

func newRoot() *pnode { return &pnode{mu: &sync.Mutex{}, m: map[pkey]pval{}} }

func keyOf(v lua.LValue) (pkey, bool) {
	switch x := v.(type) {
	case lua.LString:
		return pkey{s: string(x)}, true
	case lua.LNumber:
		return pkey{n: float64(x), num: true}, true
	}
	return pkey{}, false
}

func (k pkey) lua() lua.LValue {
	if k.num {
		return lua.LNumber(k.n)
	}
	return lua.LString(k.s)
}

func (k pkey) less(o pkey) bool {
	if k.num != o.num {
		return k.num
	}
	if k.num {
		return k.n < o.n
	}
	return k.s < o.s
}

// valueOf converts a Lua value for storing under mu, copying tables (and proxies) deeply.
func valueOf(v lua.LValue, mu *sync.Mutex, depth int) (pval, error) {
	switch x := v.(type) {
	case *lua.LNilType:
		return pval{}, nil
	case lua.LBool:
		if x {
			return pval{kind: BoolKind, num: 1}, nil
		}
		return pval{kind: BoolKind}, nil
	case lua.LNumber:
		return pval{kind: NumberKind, num: float64(x)}, nil
	case lua.LString:
		return pval{kind: StringKind, str: string(x)}, nil
	case *lua.LTable:
		if depth >= maxTableDepth {
			return pval{}, fmt.Errorf("table nested deeper than %d (a cycle?)", maxTableDepth)
		}
		n := &pnode{mu: mu, m: map[pkey]pval{}}
		var err error
		x.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			pk, ok := keyOf(k)
			if !ok {
				err = fmt.Errorf("keys must be strings or numbers, not %s", k.Type())
				return
			}
			var pv pval
			if pv, err = valueOf(val, mu, depth+1); err == nil && pv.kind != NilKind {
				n.m[pk] = pv
			}
		})
		return pval{kind: TableKind, node: n}, err
	case *lua.LUserData:
		if src, ok := x.Value.(*pnode); ok {
			src.mu.Lock()
			c := src.copyLocked(mu)
			src.mu.Unlock()
			return pval{kind: TableKind, node: c}, nil
		}
	}
	return pval{}, fmt.Errorf("cannot keep a %s in persistent state", v.Type())
}

// copyLocked copies n under a new lock; n's lock is held.
func (n *pnode) copyLocked(mu *sync.Mutex) *pnode {
	c := &pnode{mu: mu, m: make(map[pkey]pval, len(n.m))}
	for k, v := range n.m {
		if v.node != nil {
			v.node = v.node.copyLocked(mu)
		}
		c.m[k] = v
	}
	return c
}

// deepCopy copies a root under a lock of its own.
func (n *pnode) deepCopy() *pnode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.copyLocked(&sync.Mutex{})
}

// sortedKeys returns n's keys in a stable order; n's lock is held.
func (n *pnode) sortedKeysLocked() []pkey {
	keys := make([]pkey, 0, len(n.m))
	for k := range n.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	return keys
}

// snapshot copies n into a plain Lua table (for the dumper).
func (n *pnode) snapshot(L *lua.LState) *lua.LTable {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.snapshotLocked(L)
}

func (n *pnode) snapshotLocked(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	for k, v := range n.m {
		var lv lua.LValue
		switch v.kind {
		case BoolKind:
			lv = lua.LBool(v.num != 0)
		case NumberKind:
			lv = lua.LNumber(v.num)
		case StringKind:
			lv = lua.LString(v.str)
		case TableKind:
			lv = v.node.snapshotLocked(L)
		}
		t.RawSet(k.lua(), lv)
	}
	return t
}

// proxy returns a Lua proxy of n.
func (st *state) proxy(n *pnode) *lua.LUserData {
	ud := st.L.NewUserData()
	ud.Value = n
	ud.Metatable = st.proxyMetatable()
	return ud
}

// pval converts a stored value for Lua.
func (st *state) luaOf(v pval) lua.LValue {
	switch v.kind {
	case BoolKind:
		return lua.LBool(v.num != 0)
	case NumberKind:
		return lua.LNumber(v.num)
	case StringKind:
		return lua.LString(v.str)
	case TableKind:
		return st.proxy(v.node)
	}
	return lua.LNil
}

// proxyMetatable returns st's metatable for persistent-state proxies.
func (st *state) proxyMetatable() *lua.LTable {
	if st.proxyMeta != nil {
		return st.proxyMeta
	}
	L := st.L
	node := func(L *lua.LState) *pnode {
		n, ok := L.CheckUserData(1).Value.(*pnode)
		if !ok {
			L.ArgError(1, "persistent state expected")
		}
		return n
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		n := node(L)
		k, ok := keyOf(L.Get(2))
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		n.mu.Lock()
		v := n.m[k]
		n.mu.Unlock()
		L.Push(st.luaOf(v))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		n := node(L)
		k, ok := keyOf(L.Get(2))
		if !ok {
			L.ArgError(2, "persistent state keys must be strings or numbers")
		}
		v, err := valueOf(L.Get(3), n.mu, 0)
		if err != nil {
			L.RaiseError("persistent state: %v", err)
		}
		n.mu.Lock()
		if v.kind == NilKind {
			delete(n.m, k)
		} else {
			n.m[k] = v
		}
		n.mu.Unlock()
		return 0
	}))
	mt.RawSetString("__len", L.NewFunction(func(L *lua.LState) int {
		n := node(L)
		n.mu.Lock()
		i := 0
		for {
			if _, ok := n.m[pkey{n: float64(i + 1), num: true}]; !ok {
				break
			}
			i++
		}
		n.mu.Unlock()
		L.Push(lua.LNumber(i))
		return 1
	}))
	mt.RawSetString("__pairs", L.NewFunction(func(L *lua.LState) int {
		n := node(L)
		n.mu.Lock()
		keys := n.sortedKeysLocked()
		n.mu.Unlock()
		i := 0
		L.Push(L.NewFunction(func(L *lua.LState) int {
			for i < len(keys) {
				k := keys[i]
				i++
				n.mu.Lock()
				v, ok := n.m[k]
				n.mu.Unlock()
				if ok {
					L.Push(k.lua())
					L.Push(st.luaOf(v))
					return 2
				}
			}
			L.Push(lua.LNil)
			return 1
		}))
		L.Push(L.CheckUserData(1))
		L.Push(lua.LNil)
		return 3
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(fmt.Sprintf("persistent state: %p", node(L))))
		return 1
	}))
	st.proxyMeta = mt
	return mt
}

// luaState is msys.state(name, version [, migrations]): the persistent table name at the
// script's version, migrated when the stored one is older.
func (st *state) luaState(L *lua.LState) int {
	name := L.CheckString(1)
	version := L.CheckInt(2)
	migrations := L.OptTable(3, nil)
	g := st.g
	if root := g.roots[name]; root != nil {
		L.Push(st.proxy(root))
		return 1
	}
	if !st.prime || g.reg == nil {
		L.RaiseError("msys.state(%q) must be called while the script loads (its chunk or init)", name)
	}
	if version < 1 {
		L.ArgError(2, "the version must be 1 or more")
	}
	rt := g.rt
	rt.mu.Lock()
	p := rt.persisted[name]
	rt.mu.Unlock()
	var root *pnode
	switch {
	case p == nil:
		root = newRoot()
		g.pendingRoots[name] = &persisted{version: version, root: root}
	case p.version > version:
		st.raise(L, ErrDowngrade, "msys.state(%q): the stored state is at version %d, this script is at version %d: refusing to downgrade", name, p.version, version)
	case p.version == version:
		root = p.root
	default:
		root = p.root.deepCopy()
		for v := p.version + 1; v <= version; v++ {
			var mig *lua.LFunction
			if migrations != nil {
				mig, _ = migrations.RawGetInt(v).(*lua.LFunction)
			}
			if mig == nil {
				st.raise(L, ErrMigration, "msys.state(%q): no migration to version %d (stored version %d)", name, v, p.version)
			}
			if err := L.CallByParam(lua.P{Fn: mig, NRet: 0, Protect: true}, st.proxy(root)); err != nil {
				st.raise(L, ErrMigration, "msys.state(%q): migration to version %d failed: %s", name, v, luaMessage(err))
			}
			rt.log.Info(rt.paniclog(fmt.Sprintf("state %s upgraded to %d", name, v)), "script", where(L))
		}
		g.pendingRoots[name] = &persisted{version: version, root: root}
	}
	g.roots[name] = root
	L.Push(st.proxy(root))
	return 1
}

// promote makes g's created and migrated persistent tables the stored ones. Called when g
// commits.
func (rt *Runtime) promote(g *genState) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for name, p := range g.pendingRoots {
		rt.persisted[name] = p
	}
	g.pendingRoots = map[string]*persisted{}
}

// PersistedVersion returns the stored version of persistent state name, and whether there
// is one (for tests and introspection).
func (rt *Runtime) PersistedVersion(name string) (int, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	p, ok := rt.persisted[name]
	if !ok {
		return 0, false
	}
	return p.version, true
}
