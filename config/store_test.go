package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReloadBrokenKeepsCurrent(t *testing.T) {
	o := newTestOptions(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ecelerity.conf")
	writeFiles(t, dir, map[string]string{"ecelerity.conf": "Memory_HWM = 80\n"})
	s := NewStore(o.reg, StoreOptions{Path: path})
	g, err := s.Reload("")
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	for _, broken := range []string{
		"Memory_HWM = 70\nNope = 1\n",         // unknown option
		"Memory_HWM = 70\nSpool_Mode = 99\n",  // bad value
		"Memory_HWM = 70\nDomain \"x\" {\n",   // syntax
		"Memory_HWM = 70\ninclude \"none\"\n", // missing include
	} {
		writeFiles(t, dir, map[string]string{"ecelerity.conf": broken})
		if _, err := s.Reload(""); err == nil {
			t.Fatalf("reload of %q succeeded", broken)
		}
		cur := s.Current()
		if got := o.memHWM.Global(cur); got != 80 || cur.ID() != 2 {
			t.Errorf("after a broken reload: Memory_HWM %d gen %d, want 80 gen 2", got, cur.ID())
		}
		cur.Release()
	}
	var sess Session
	if _, err := s.Command(&sess, []string{"reload"}); err == nil || !strings.HasPrefix(err.Error(), "Reconfigure failed") {
		t.Errorf("console reload: %v", err)
	}
}

// recorder is a Participant that records calls and may veto.
type recorder struct {
	mu     sync.Mutex
	calls  []string
	veto   error
	hwm    *Option[int64]
	sawHWM int64
}

func (r *recorder) Prepare(txn *Txn, next *Generation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("prepare %d", next.ID()))
	r.sawHWM = r.hwm.Global(next)
	return r.veto
}

func (r *recorder) Commit(prev, next *Generation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("commit %d->%d", prev.ID(), next.ID()))
}

func (r *recorder) Abort(next *Generation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("abort %d", next.ID()))
}

func TestParticipants(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	ok := &recorder{hwm: o.memHWM}
	vetoer := &recorder{hwm: o.memHWM, veto: errors.New("module x failed")}
	s.AddParticipant(ok)

	txn := s.Begin()
	if _, err := txn.Set(nil, "memory_hwm", Scalar("70")); err != nil {
		t.Fatal(err)
	}
	g, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	if ok.sawHWM != 70 {
		t.Errorf("Prepare saw %d, want the new value 70", ok.sawHWM)
	}

	s.AddParticipant(vetoer)
	txn = s.Begin()
	txn.Set(nil, "Memory_HWM", Scalar("60"))
	_, err = txn.Commit()
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "module x failed") {
		t.Fatalf("veto: got %v", err)
	}
	cur := s.Current()
	defer cur.Release()
	if o.memHWM.Global(cur) != 70 || cur.ID() != 2 {
		t.Errorf("a vetoed commit changed the current generation")
	}
	want := "prepare 2,commit 1->2,prepare 3,abort 3"
	if got := strings.Join(ok.calls, ","); got != want {
		t.Errorf("calls %s, want %s", got, want)
	}
}

func TestDatafreeAndRetire(t *testing.T) {
	r := NewRegistry()
	var mu sync.Mutex
	freed := map[string]int{}
	MustDefine(r, Spec[string]{Name: "Res", Datafree: func(v string) {
		mu.Lock()
		freed[v]++
		mu.Unlock()
	}, Validate: func(v string) error {
		if v == "bad" {
			return errors.New("bad")
		}
		return nil
	}}, StringType())
	MustDefine(r, Spec[int64]{Name: "N"}, IntType())
	s := NewStore(r, StoreOptions{})

	commit := func(src string) error {
		tree, err := Parse("t.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.BeginTree(tree).Commit()
		if err == nil {
			g.Release()
		}
		return err
	}
	if err := commit("Res = a"); err != nil {
		t.Fatal(err)
	}
	reader := s.Current() // holds generation 2 (Res = a)
	var retired atomic.Bool
	reader.OnRetire(func() { retired.Store(true) })
	if err := commit("Res = b"); err != nil {
		t.Fatal(err)
	}
	if retired.Load() || freed["a"] != 0 {
		t.Fatal("generation retired while a reader held it")
	}
	reader.Release()
	if !retired.Load() || freed["a"] != 1 || !reader.Retired() {
		t.Fatalf("after the last release: retired=%v freed=%v", retired.Load(), freed)
	}
	// A rejected transaction frees the values it built.
	if err := commit("Res = c\nN = x"); err == nil {
		t.Fatal("bad N accepted")
	}
	if freed["c"] != 1 {
		t.Errorf("rejected transaction's value not freed: %v", freed)
	}
	if freed["b"] != 0 {
		t.Errorf("the current generation's value was freed: %v", freed)
	}
	if infos := s.Generations(); len(infos) != 1 || !infos[0].Current || infos[0].ID != 3 {
		t.Errorf("generations %+v, want only 3 (current)", infos)
	}
}

func TestRacingCommitsFirstWins(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	a, b := s.Begin(), s.Begin()
	a.Set(nil, "Memory_HWM", Scalar("1"))
	b.Set(nil, "Memory_HWM", Scalar("2"))
	g, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	if _, err := b.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("second commit: got %v, want ErrConflict", err)
	}
	if _, err := b.Commit(); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("commit twice: %v", err)
	}
	cur := s.Current()
	defer cur.Release()
	if o.memHWM.Global(cur) != 1 {
		t.Error("the losing commit changed the value")
	}
}

func TestConcurrentReadersDuringCommits(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	const commits = 1000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g := s.Current()
				// Every generation sets both options to the same number:
				// a reader must never see a mix.
				a := o.memHWM.Global(g)
				d := o.maxOut.BindingDomain(g, "b", "d.com")
				if g.ID() > 1 && a != d {
					bad.Add(1)
				}
				g.Release()
			}
		}()
	}
	for i := 0; i < commits; i++ {
		txn := s.Begin()
		v := Scalar(fmt.Sprint(i))
		if _, err := txn.Set(nil, "Memory_HWM", v); err != nil {
			t.Fatal(err)
		}
		if _, err := txn.Set([]ScopeRef{Ref("Binding", "b"), Ref("Domain", "d.com")}, "Max_Outbound_Connections", v); err != nil {
			t.Fatal(err)
		}
		g, err := txn.Commit()
		if err != nil {
			t.Fatal(err)
		}
		g.Release()
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d inconsistent reads", bad.Load())
	}
	cur := s.Current()
	defer cur.Release()
	if cur.ID() != commits+1 || o.memHWM.Global(cur) != commits-1 {
		t.Errorf("final generation %d value %d", cur.ID(), o.memHWM.Global(cur))
	}
	if n := len(s.Generations()); n != 1 {
		t.Errorf("%d generations alive after readers stopped, want 1", n)
	}
}

func TestNotDynamicWarns(t *testing.T) {
	o := newTestOptions(t)
	var warnings []string
	s := NewStore(o.reg, StoreOptions{Warn: func(m string) { warnings = append(warnings, m) }})
	set := func(name, v string) {
		txn := s.Begin()
		if _, err := txn.Set(nil, name, Scalar(v)); err != nil {
			t.Fatal(err)
		}
		g, err := txn.Commit()
		if err != nil {
			t.Fatal(err)
		}
		g.Release()
	}
	set("Spool_Mode", "0600") // start-up: no warning
	s.MarkStarted()
	set("Memory_HWM", "50") // dynamic: no warning
	if len(warnings) != 0 {
		t.Fatalf("unexpected warnings %v", warnings)
	}
	set("Spool_Mode", "0644")
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Spool_Mode") {
		t.Fatalf("warnings %v", warnings)
	}
	cur := s.Current()
	defer cur.Release()
	if o.spoolMode.Global(cur) != 0o644 {
		t.Error("a NotDynamic change must still proceed")
	}
}

func TestWritebackReadonly(t *testing.T) {
	o := newTestOptions(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf": "# comment\nMemory_HWM = 80\nreadonly_include \"ro.conf\"\ninclude \"rw.conf\"\n",
		"ro.conf":   "Spoolbase = /ro\n",
		"rw.conf":   "Domain \"d\" { Max_Outbound_Connections = 3 }\n",
	})
	s := NewStore(o.reg, StoreOptions{Path: filepath.Join(dir, "main.conf")})
	g, err := s.Reload("")
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	var sess Session
	run := func(args ...string) string {
		t.Helper()
		out, err := s.Command(&sess, args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	run("set", "memory_hwm", "81")                             // in place in main.conf
	run("set", "Domain", "d", "max_outbound_connections", "4") // in place in rw.conf
	run("set", "Spoolbase", "/changed")                        // defined in ro.conf: goes to local changes
	if _, err := s.Command(&sess, []string{"writeback", filepath.Join(dir, "ro.conf")}); !errors.Is(err, ErrReadonly) {
		t.Fatalf("writeback into the read-only file: got %v, want ErrReadonly", err)
	}
	if _, err := s.Command(&sess, []string{"unset", "Spoolbase"}); !errors.Is(err, ErrReadonly) {
		t.Fatalf("unset of a read-only definition: got %v", err)
	}
	run("writeback")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("ro.conf"); got != "Spoolbase = /ro\n" {
		t.Errorf("ro.conf changed: %q", got)
	}
	if got := read("main.conf"); !strings.Contains(got, "Memory_HWM = 81") || !strings.Contains(got, `readonly_include "ro.conf"`) {
		t.Errorf("main.conf:\n%s", got)
	}
	if got := read("rw.conf"); got != "Domain \"d\" {\n  Max_Outbound_Connections = 4\n}\n" {
		t.Errorf("rw.conf:\n%s", got)
	}
	if got := read(DefaultLocalChangesName); got != "Spoolbase = /changed\n" {
		t.Errorf("local changes:\n%s", got)
	}
	// The written files load back to the same values.
	g, err = s.Reload("")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if o.spoolbase.Global(g) != "/changed" || o.memHWM.Global(g) != 81 || o.maxOut.Domain(g, "d") != 4 {
		t.Errorf("reloaded values %q %d %d", o.spoolbase.Global(g), o.memHWM.Global(g), o.maxOut.Domain(g, "d"))
	}
	// Whole-config writeback to another path round-trips.
	// (In another directory: ParseFile would also read the local-changes
	// file beside it.)
	out := filepath.Join(t.TempDir(), "dump.conf")
	run("writeback", out)
	tree, err := ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Flatten() != g.Tree().Flatten() {
		t.Errorf("dump differs:\n%s\nvs\n%s", tree.Flatten(), g.Tree().Flatten())
	}
}

func TestLocalChangesOnly(t *testing.T) {
	o := newTestOptions(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.conf": "Local_Changes_Only = true\nMemory_HWM = 80\n"})
	s := NewStore(o.reg, StoreOptions{})
	g, err := s.Reload(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	var sess Session
	if _, err := s.Command(&sess, []string{"set", "Memory_HWM", "81"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Command(&sess, []string{"writeback"}); err != nil {
		t.Fatal(err)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "main.conf"))
	local, _ := os.ReadFile(filepath.Join(dir, DefaultLocalChangesName))
	if !strings.Contains(string(main), "Memory_HWM = 80") || string(local) != "Memory_HWM = 81\n" {
		t.Errorf("main %q local %q", main, local)
	}
}

// swapRecorder is a Participant and Swapper that records what the store shows
// at each step.
type swapRecorder struct {
	recorder
	s *Store
	// inRunner is set by the test's swap runner while it runs a swap.
	inRunner *atomic.Bool
}

func (r *swapRecorder) Swap(prev, next *Generation) {
	cur := r.s.cur.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("swap %d->%d current=%d runner=%v", prev.ID(), next.ID(), cur.ID(), r.inRunner != nil && r.inRunner.Load()))
}

func (r *swapRecorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.calls, ",")
}

// TestPrepareSwapFinish: the two-phase commit. Prepare validates and runs
// the participants' Prepare and changes nothing visible; Swap makes the new
// generation current and calls the Swappers, and only them; Finish calls the
// participants' Commit and hands the new generation to the caller. A commit
// racing with the prepared one waits for it and fails with ErrConflict.
func TestPrepareSwapFinish(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	plain := &recorder{hwm: o.memHWM}
	sw := &swapRecorder{recorder: recorder{hwm: o.memHWM}, s: s}
	s.AddParticipant(plain)
	s.AddParticipant(sw)

	racer := s.Begin()
	racer.Set(nil, "Memory_HWM", Scalar("2"))
	txn := s.Begin()
	txn.Set(nil, "Memory_HWM", Scalar("1"))
	p, err := txn.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if p.Generation().ID() != 2 || o.memHWM.Global(p.Generation()) != 1 {
		t.Fatalf("prepared generation %d with Memory_HWM %d", p.Generation().ID(), o.memHWM.Global(p.Generation()))
	}
	raced := make(chan error, 1)
	go func() {
		g, err := racer.Commit()
		if err == nil {
			g.Release()
		}
		raced <- err
	}()
	if id := currentID(s); id != 1 {
		t.Errorf("current generation %d after Prepare, want 1", id)
	}
	if got := sw.log(); got != "prepare 2" {
		t.Errorf("after Prepare: %s", got)
	}
	if infos := s.Generations(); len(infos) != 1 || infos[0].ID != 1 {
		t.Errorf("generations after Prepare %+v, want 1 alone", infos)
	}

	p.Swap()
	p.Swap() // a second call does nothing
	if id := currentID(s); id != 2 {
		t.Errorf("current generation %d after Swap, want 2", id)
	}
	if got, want := sw.log(), "prepare 2,swap 1->2 current=2 runner=false"; got != want {
		t.Errorf("after Swap: %s, want %s", got, want)
	}
	if got := strings.Join(plain.calls, ","); got != "prepare 2" {
		t.Errorf("a plain participant's Commit ran in Swap: %s", got)
	}
	p.Abort() // after Swap: nothing

	g := p.Finish()
	if g == nil || g.ID() != 2 {
		t.Fatalf("Finish returned %v", g)
	}
	g.Release()
	if p.Finish() != nil {
		t.Error("a second Finish returned a generation")
	}
	if got, want := sw.log(), "prepare 2,swap 1->2 current=2 runner=false,commit 1->2"; got != want {
		t.Errorf("after Finish: %s, want %s", got, want)
	}
	if err := <-raced; !errors.Is(err, ErrConflict) {
		t.Errorf("the racing commit: %v, want ErrConflict", err)
	}
	if infos := s.Generations(); len(infos) != 1 || infos[0].ID != 2 || !infos[0].Current {
		t.Errorf("generations %+v, want 2 alone (generation 1 retired)", infos)
	}
}

func currentID(s *Store) uint64 {
	g := s.Current()
	defer g.Release()
	return g.ID()
}

// TestPrepareAbort: an aborted prepared transaction leaves the current
// generation, tells every participant, frees what it built and frees the
// commit slot; Swap and Finish after Abort do nothing.
func TestPrepareAbort(t *testing.T) {
	r := NewRegistry()
	var freed atomic.Int32
	MustDefine(r, Spec[string]{Name: "Res", Datafree: func(string) { freed.Add(1) }}, StringType())
	s := NewStore(r, StoreOptions{})
	rec := &recorder{hwm: MustDefine(r, Spec[int64]{Name: "N"}, IntType())}
	s.AddParticipant(rec)
	txn := s.Begin()
	txn.Set(nil, "Res", Scalar("x"))
	p, err := txn.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	freedBefore := freed.Load() // Set checked the value once, and freed it
	p.Abort()
	p.Swap()
	if p.Finish() != nil {
		t.Error("Finish after Abort returned a generation")
	}
	if id := currentID(s); id != 1 {
		t.Errorf("current generation %d, want 1", id)
	}
	if n := freed.Load() - freedBefore; n != 1 {
		t.Errorf("Abort ran Datafree %d times for the prepared value, want 1", n)
	}
	if got, want := strings.Join(rec.calls, ","), "prepare 2,abort 2"; got != want {
		t.Errorf("calls %s, want %s", got, want)
	}
	// The slot is free: the next transaction commits.
	txn = s.Begin()
	txn.Set(nil, "Res", Scalar("y"))
	g, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	if _, err := txn.Prepare(); !errors.Is(err, ErrTxnDone) {
		t.Errorf("Prepare after Commit: %v", err)
	}
}

// TestSwapRunner: Commit hands the swap to the store's swap runner, which
// runs it on a goroutine of its own here (the module system's runs it on the
// event loop); the Swappers are called inside it, Commit returns after it.
func TestSwapRunner(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	var inRunner atomic.Bool
	sw := &swapRecorder{recorder: recorder{hwm: o.memHWM}, s: s, inRunner: &inRunner}
	s.AddParticipant(sw)
	runs := 0
	s.SetSwapRunner(func(swap func()) {
		runs++
		done := make(chan struct{})
		go func() {
			inRunner.Store(true)
			swap()
			inRunner.Store(false)
			close(done)
		}()
		<-done
	})
	txn := s.Begin()
	txn.Set(nil, "Memory_HWM", Scalar("5"))
	g, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	if got, want := sw.log(), "prepare 2,swap 1->2 current=2 runner=true,commit 1->2"; runs != 1 || got != want {
		t.Errorf("%d runs; calls %s, want %s", runs, got, want)
	}
	// A rejected transaction never reaches the runner.
	txn = s.Begin()
	txn.Set(nil, "Memory_HWM", Scalar("6"))
	sw.mu.Lock()
	sw.veto = errors.New("no")
	sw.mu.Unlock()
	if _, err := txn.Commit(); !errors.Is(err, ErrRejected) {
		t.Fatalf("veto: %v", err)
	}
	if runs != 1 {
		t.Errorf("the runner ran for a rejected transaction")
	}
}

// TestStorePath: a reload of another file makes it the store's path (what
// Reload("") reads next); a rejected one, a transaction without SetPath and
// a rejected SetPath transaction keep it; SetPath changes it directly.
func TestStorePath(t *testing.T) {
	o := newTestOptions(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.conf": "Memory_HWM = 1\n", "b.conf": "Memory_HWM = 2\n", "bad.conf": "Nope = 1\n"})
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	s := NewStore(o.reg, StoreOptions{Path: a})
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"reload of another file", func() error { return release(s.Reload(b)) }, b},
		{"reload without a path reads it", func() error {
			writeFiles(t, dir, map[string]string{"b.conf": "Memory_HWM = 3\n"})
			if err := release(s.Reload("")); err != nil {
				return err
			}
			g := s.Current()
			defer g.Release()
			if v := o.memHWM.Global(g); v != 3 {
				return fmt.Errorf("Memory_HWM = %d after Reload(\"\"), want 3 from b.conf", v)
			}
			return nil
		}, b},
		{"rejected reload", func() error {
			if _, err := s.Reload(filepath.Join(dir, "bad.conf")); err == nil {
				return errors.New("bad.conf accepted")
			}
			return nil
		}, b},
		{"transaction without SetPath", func() error { return release(s.BeginTree(&Tree{Main: &File{}}).Commit()) }, b},
		{"rejected transaction with SetPath", func() error {
			tree, _ := Parse("x.conf", []byte("Nope = 1"))
			txn := s.BeginTree(tree)
			txn.SetPath("x.conf")
			if _, err := txn.Commit(); err == nil {
				return errors.New("accepted")
			}
			return nil
		}, b},
		{"transaction with SetPath", func() error {
			txn := s.BeginTree(&Tree{Main: &File{}})
			txn.SetPath(a)
			return release(txn.Commit())
		}, a},
		{"SetPath", func() error { s.SetPath(b); return nil }, b},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := s.Path(); got != st.want {
			t.Errorf("%s: path %q, want %q", st.name, got, st.want)
		}
	}
}

func release(g *Generation, err error) error {
	if err == nil {
		g.Release()
	}
	return err
}
