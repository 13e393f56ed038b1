package hooks

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// resolveOrder returns the providers of hook d in call order: the default
// order (First before Last, registration order among equals) made to respect
// every Before/After constraint, moving only the provider that carries the
// constraint: one with Before(m) moves up to just before m's first provider,
// one with After(m) waits until m's last provider has run, and the others
// keep their places. A cycle is an error naming it.
func resolveOrder(d *decl, regs []*provider) ([]*provider, error) {
	base := slices.Clone(regs)
	slices.SortStableFunc(base, func(a, b *provider) int {
		if c := cmp.Compare(a.pos, b.pos); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	n := len(base)
	byModule := make(map[string][]int)
	for i, p := range base {
		byModule[p.module] = append(byModule[p.module], i)
	}
	succ := make([][]int, n) // succ[i]: providers that must run after i
	indeg := make([]int, n)
	edge := func(from, to int) {
		succ[from] = append(succ[from], to)
		indeg[to]++
	}
	for i, p := range base {
		for _, m := range p.before {
			for _, j := range byModule[m] {
				edge(i, j)
			}
		}
		for _, m := range p.after {
			for _, j := range byModule[m] {
				edge(j, i)
			}
		}
	}
	// rank is where a provider would like to run: its own place, or, through
	// Before constraints (transitively), the place of the earliest provider
	// it must precede. Ranks only decrease, so this settles within n rounds,
	// cycles included (Kahn's algorithm reports those below).
	rank := make([]int, n)
	for i := range rank {
		rank[i] = i
	}
	for changed := true; changed; {
		changed = false
		for i, p := range base {
			for _, m := range p.before {
				for _, j := range byModule[m] {
					if rank[j] < rank[i] {
						rank[i] = rank[j]
						changed = true
					}
				}
			}
		}
	}
	// Kahn's algorithm, taking the ready provider of lowest (rank, place)
	// each time; a hook has a handful of providers, so the quadratic scan is
	// the simple choice.
	done := make([]bool, n)
	out := make([]*provider, 0, n)
	for len(out) < n {
		next := -1
		for i := range n {
			if !done[i] && indeg[i] == 0 && (next < 0 || rank[i] < rank[next]) {
				next = i
			}
		}
		if next < 0 {
			return nil, fmt.Errorf("hooks: %s: %w: %s", d.full, ErrCycle, describeCycle(base, succ, done))
		}
		done[next] = true
		out = append(out, base[next])
		for _, j := range succ[next] {
			indeg[j]--
		}
	}
	return out, nil
}

// describeCycle finds a cycle among the providers not done (each of which
// waits for another one not done) and prints it in run order, "a (site) ->
// b (site) -> a (site)", where -> reads "must run before".
func describeCycle(base []*provider, succ [][]int, done []bool) string {
	n := len(base)
	pred := make([][]int, n)
	for i := range n {
		if done[i] {
			continue
		}
		for _, j := range succ[i] {
			if !done[j] {
				pred[j] = append(pred[j], i)
			}
		}
	}
	start := slices.Index(done, false)
	at := make([]int, n)
	for i := range at {
		at[i] = -1
	}
	var path []int
	v := start
	for at[v] < 0 {
		at[v] = len(path)
		path = append(path, v)
		v = pred[v][0]
	}
	cycle := slices.Clone(path[at[v]:])
	// The walk went from each provider to one that must run before it.
	slices.Reverse(cycle)
	// Start at the earliest registration, so the message does not depend on
	// where the walk began.
	first := slices.Index(cycle, slices.Min(cycle))
	cycle = append(slices.Clone(cycle[first:]), cycle[:first+1]...)
	parts := make([]string, len(cycle))
	for i, j := range cycle {
		parts[i] = fmt.Sprintf("%s (%s)", base[j].module, base[j].site)
	}
	return strings.Join(parts, " -> ")
}
