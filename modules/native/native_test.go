package native

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
)

// A module loads: its hooks are called, its options fetched, its memory
// types counted, its control command answers, and module list shows it.
func TestLoadHooksOptionsMemtype(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod")
	e.start(`testmod { mode = "fast" count = 5 loud = true }`)

	if got := e.version(); got != 1 {
		t.Errorf("version hook = %d, want 1", got)
	}
	if got := hooks.Call2(addHook, e.m.Hooks(), 2, 3); got != 1005 {
		t.Errorf("add(2,3) = %d, want 1005", got)
	}
	if got, want := hooks.Call2(greetHook, e.m.Hooks(), &subject{name: "bob", n: 2}, "hey"), 3*100+3+2*10000; got != want {
		t.Errorf("greet = %d, want %d (handles and strings)", got, want)
	}
	if got, want := e.control("testmod", "opts"), "mode=fast count=5 loud=1"; got != want {
		t.Errorf("opts = %q, want %q", got, want)
	}
	if st := e.stats("testmod:state"); st.Active != 1 {
		t.Errorf("state memtype active = %d, want 1", st.Active)
	}
	if got := e.control("testmod", "alloc"); got != "ok" {
		t.Fatalf("alloc = %q", got)
	}
	if st := e.stats("testmod:blob"); st.Active != 1 || st.Bytes != 100 {
		t.Errorf("blob after alloc: %+v, want 1 live of 100 bytes", st)
	}
	if got := e.control("testmod", "free"); got != "0" {
		t.Errorf("free = %q, want 0", got)
	}
	if st := e.stats("testmod:blob"); st.Active != 0 {
		t.Errorf("blob after free: %d live, want 0", st.Active)
	}
	if got := e.control("testmod", "badopt"); got != "-2" {
		t.Errorf("option_int of an unknown id = %s, want EC_ENOENT (-2)", got)
	}
	list := modules.FormatModuleList(e.m.Modules())
	for _, want := range []string{"Module: testmod", "Kind: native", "State: loaded", "Description: native test module"} {
		if !strings.Contains(list, want) {
			t.Errorf("module list lacks %q:\n%s", want, list)
		}
	}
	if e.logs.count("testmod set up") != 1 {
		t.Errorf("the module's log line did not reach the logger")
	}
}

// A rebuilt library loads beside the old one while a call into the old one
// is in flight: the old call finishes on the old code, new calls reach the
// new code, and the old copy is removed once the call and its generation
// are gone.
func TestReloadWhileCallInFlight(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "VERSION=1")
	e.start(`testmod { }`)

	_, release, holdFD, _ := pipe(t)    // the test writes release to let the call return
	entered, _, _, enteredFD := pipe(t) // the C provider writes entered when it runs
	done := make(chan int)
	go func() { done <- hooks.Call2(blockHook, e.m.Hooks(), holdFD, enteredFD) }()
	waitByte(t, entered)

	old := e.loader.Libraries()
	if len(old) != 1 {
		t.Fatalf("libraries before reload: %+v", old)
	}
	g := e.m.Current()
	destroyed := g.Destroyed()
	g.Release()

	e.install("testmod", "VERSION=2")
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := e.version(); got != 2 {
		t.Errorf("after reload, version = %d, want 2", got)
	}
	libs := e.loader.Libraries()
	if len(libs) != 2 || libs[0].State != StateOrphan || libs[1].State != StateCached {
		t.Fatalf("libraries during the call: %+v, want the old orphaned and the new cached", libs)
	}
	if _, err := os.Stat(old[0].Copy); err != nil {
		t.Fatalf("the old copy is gone while a call runs in it: %v", err)
	}
	select {
	case <-destroyed:
		t.Fatal("the old generation was destroyed while a call was in flight")
	default:
	}

	if _, err := release.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != 1 {
		t.Errorf("the call in flight returned %d, want 1 (the old code)", got)
	}
	waitClosed(t, destroyed)
	if _, err := os.Stat(old[0].Copy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old copy still there after its last user: %v", err)
	}
	if libs := e.loader.Libraries(); len(libs) != 1 || libs[0].Load == old[0].Load {
		t.Errorf("libraries after the call: %+v, want only the new load", libs)
	}
}

// A library overwritten in place (same inode) while loaded does not touch
// the running code: the copy is what is mapped. The next reload loads it.
func TestOverwriteInPlace(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "VERSION=1")
	e.start(`testmod { }`)
	before := inode(t, e.soPath("testmod"))

	if err := os.WriteFile(e.soPath("testmod"), buildBytes(t, "VERSION=2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if inode(t, e.soPath("testmod")) != before {
		t.Fatal("the test meant to keep the inode")
	}
	for range 3 {
		if got := e.version(); got != 1 {
			t.Fatalf("after overwrite, before reload: version %d, want 1", got)
		}
	}
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := e.version(); got != 2 {
		t.Errorf("after reload: version %d, want 2", got)
	}
}

// An unchanged library is reused by a reload; a replacement with the same
// inode, size and mtime is caught by the content hash.
func TestCacheFingerprint(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "VERSION=1")
	// Trailing bytes after an ELF image are ignored by the loader: pad the
	// first build well past any size the second can have, so that the second,
	// padded the same way, replaces it at the same size.
	padFile(t, e.soPath("testmod"), 64<<10)
	e.start(`testmod { }`)
	first := e.loader.Libraries()

	if err := e.reload(`testmod { count = 9 }`); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if again := e.loader.Libraries(); len(again) != 1 || again[0].Load != first[0].Load {
		t.Fatalf("an unchanged library was loaded again: %+v then %+v", first, again)
	}

	path := e.soPath("testmod")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := os.ReadFile(path)
	v2 := buildBytes(t, "VERSION=2")
	if len(v2) > len(v1) {
		t.Fatalf("the second build (%d bytes) outgrew the padded first (%d)", len(v2), len(v1))
	}
	v2 = append(v2, make([]byte, len(v1)-len(v2))...)
	ino := inode(t, path)
	if err := os.WriteFile(path, v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	now, _ := os.Stat(path)
	if inode(t, path) != ino || now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the replacement should look the same to stat")
	}
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := e.version(); got != 2 {
		t.Errorf("version %d after a same-stat replacement, want 2", got)
	}
}

// Bad libraries are refused with the reason: an ABI version the host does
// not know (both named), no entry symbol, a name other than the manifest's.
func TestOpenRefusesBadLibraries(t *testing.T) {
	cases := []struct {
		name    string
		defines []string
		want    error
		text    []string
	}{
		{"bad ABI", []string{"ABI=99"}, ErrABI, []string{"ABI version 99", "ABI version 1"}},
		{"no entry", []string{"NO_ENTRY"}, ErrSymbol, []string{EntrySymbol}},
		{"wrong name", []string{`MODNAME="other"`}, ErrBadModule, []string{`"other"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.install("testmod", tc.defines...)
			_, err := e.loader.Open("testmod", found(e, "testmod"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			// The module system reports it missing, with the reason.
			err = e.m.Start(t.Context(), e.confFile(`testmod { }`))
			if err == nil || !strings.Contains(err.Error(), tc.text[0]) {
				t.Errorf("Start: %v, want a failure naming %q", err, tc.text[0])
			}
		})
	}
}

// A manifest without a library beside it is no native module.
func TestOpenWithoutLibrary(t *testing.T) {
	e := newEnv(t, nil)
	e.manifest("testmod")
	if _, err := e.loader.Open("testmod", found(e, "testmod")); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("Open: %v, want ErrNoLibrary", err)
	}
}

// A hook without a native adapter cannot be registered from C: the load
// fails naming the hook.
func TestUnboundHookRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "REGISTER_UNBOUND")
	err := e.m.Start(t.Context(), e.confFile(`testmod { }`))
	if err == nil {
		t.Fatal("Start succeeded with a provider of a hook that has no native adapter")
	}
	for _, want := range []string{"nativetest.unbound", "no native adapter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_ = unboundHook
}

// Persistent state moves to a new version through migrate; code older than
// the state is refused and the running version stays.
func TestStateEvolution(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "VERSION=1", "STATE_VERSION=1")
	e.start(`testmod { }`)
	if got := e.control("testmod", "version"); got != "v=1 state_version=1 created_by=1 migrated=0" {
		t.Fatalf("v1: %q", got)
	}

	e.install("testmod", "VERSION=2", "STATE_VERSION=3")
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatalf("reload to v2: %v", err)
	}
	if got := e.control("testmod", "version"); got != "v=2 state_version=3 created_by=1 migrated=2" {
		t.Errorf("v2: %q, want the v1 state migrated twice", got)
	}
	if n := e.logs.count("migrating persistent state"); n != 2 {
		t.Errorf("%d migration steps logged, want 2", n)
	}

	e.install("testmod", "VERSION=3", "STATE_VERSION=2")
	err := e.reload(`testmod { }`)
	if !errors.Is(err, modules.ErrRejected) || !strings.Contains(err.Error(), "no automatic downgrade") {
		t.Fatalf("reload to older code: %v, want a rejection for the downgrade", err)
	}
	if got := e.version(); got != 2 {
		t.Errorf("after the refused downgrade version = %d, want 2 still", got)
	}
}

// With dynamic reload off a library loads once per process: a changed file
// is logged and ignored.
func TestReloadOff(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoReload = true })
	e.install("testmod", "VERSION=1")
	e.start(`testmod { }`)
	e.install("testmod", "VERSION=2")
	for range 2 {
		if err := e.reload(`testmod { }`); err != nil {
			t.Fatalf("reload: %v", err)
		}
	}
	if got := e.version(); got != 1 {
		t.Errorf("version %d, want 1: reload is off", got)
	}
	if n := e.logs.count("dynamic reload is off"); n != 1 {
		t.Errorf("the ignored change was logged %d times, want once", n)
	}
	e.loader.SetReload(true)
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := e.version(); got != 2 {
		t.Errorf("version %d after turning reload on, want 2", got)
	}
}

// The runtime directory is cleaned of earlier processes' copies at start-up,
// and of nothing else.
func TestRuntimeDirCleaned(t *testing.T) {
	dir := t.TempDir()
	stale := dir + "/" + loadDirPrefix + "testmod-123"
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale+"/testmod.so", []byte("x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/keep", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(Options{RuntimeDir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale load directory survived: %v", err)
	}
	if _, err := os.Stat(dir + "/keep"); err != nil {
		t.Errorf("a file that is not a load directory was removed: %v", err)
	}
	if _, err := NewLoader(Options{}); !errors.Is(err, ErrBadParams) {
		t.Errorf("NewLoader without a runtime directory: %v", err)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("timed out")
	}
}

// padFile appends n zero bytes to the file at path.
func padFile(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}
