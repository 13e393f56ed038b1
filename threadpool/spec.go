package threadpool

import (
	"fmt"
	"strings"
	"unicode"
)

// Names of the built-in pools, as shown (upper case).
const (
	PoolSwapOut     = "SWAPOUT"
	PoolSwapIn      = "SWAPIN"
	PoolUnlink      = "UNLINK"
	PoolBatchUnlink = "BATCH_UNLINK"
	PoolClose       = "CLOSE"
	PoolCPU         = "CPU"
	PoolIO          = "IO"
	PoolSpoolIn     = "SPOOLIN"
)

// Spec describes one pool as a `ThreadPool "NAME" { Concurrency = N  Backlog = N }` stanza
// does. Stack_Size has no meaning for goroutines and has no field.
type Spec struct {
	// Name is matched without regard to case and shown in upper case.
	Name string
	// Concurrency is how many jobs of the pool run at once. 0 makes the pool run each job
	// inline on the submitter's goroutine (the built-in Close pool's default), so a job is never
	// queued where no worker would take it.
	Concurrency int
	// Backlog bounds the queue (0: unlimited). A submit that would exceed it waits for room,
	// except on the master loop, where it fails with ErrBacklogFull.
	Backlog int
}

// DefaultSpecs returns the built-in pools with their default sizes. They exist even when the
// configuration names none of them, and Apply resets one to its default when the configuration
// stops naming it.
func DefaultSpecs() []Spec {
	return []Spec{
		{Name: PoolSwapOut, Concurrency: 5},
		{Name: PoolSwapIn, Concurrency: 5},
		{Name: PoolUnlink, Concurrency: 6, Backlog: 100},
		{Name: PoolBatchUnlink, Concurrency: 4},
		{Name: PoolClose, Concurrency: 0},
		{Name: PoolCPU, Concurrency: 4},
		{Name: PoolIO, Concurrency: 50},
		{Name: PoolSpoolIn, Concurrency: 1},
	}
}

// maxConcurrency bounds Concurrency: far above any sane pool, low enough that a typo such as
// an extra zero or a negative number read as unsigned cannot start a million goroutines.
const maxConcurrency = 10000

// canonicalName returns the upper-case form of a pool name, or an error for a name that a
// console listing could not show: empty, or holding spaces or control characters.
func canonicalName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty pool name", ErrInvalidSpec)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", fmt.Errorf("%w: pool name %q: spaces and control characters are not allowed", ErrInvalidSpec, name)
		}
	}
	return strings.ToUpper(name), nil
}

// mergeSpecs checks specs and lays them over the built-in defaults, keyed by upper-case name.
// The order is the defaults' order, then the specs' own order for new pools.
func mergeSpecs(specs []Spec) ([]Spec, error) {
	merged := DefaultSpecs()
	index := make(map[string]int, len(merged)+len(specs))
	for i, s := range merged {
		index[s.Name] = i
	}
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		name, err := canonicalName(s.Name)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: pool %s named twice", ErrInvalidSpec, name)
		}
		seen[name] = true
		if s.Concurrency < 0 || s.Concurrency > maxConcurrency {
			return nil, fmt.Errorf("%w: pool %s: concurrency %d out of range [0, %d]", ErrInvalidSpec, name, s.Concurrency, maxConcurrency)
		}
		if s.Backlog < 0 {
			return nil, fmt.Errorf("%w: pool %s: negative backlog %d", ErrInvalidSpec, name, s.Backlog)
		}
		s.Name = name
		if i, ok := index[name]; ok {
			merged[i] = s
			continue
		}
		index[name] = len(merged)
		merged = append(merged, s)
	}
	return merged, nil
}
