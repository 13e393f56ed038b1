package hooks_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// testScope keeps this package's test hooks apart from real ones.
const testScope = hooks.Scope("hookstest")

// logBuffer is a slog destination that tests read back.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogged returns registry options whose logger writes to the returned
// buffer.
func newLogged() (hooks.Options, *logBuffer) {
	b := &logBuffer{}
	return hooks.Options{Logger: slog.New(slog.NewTextHandler(b, nil))}, b
}

// quiet returns options whose logger discards, for tests that do not read
// the log.
func quiet() hooks.Options {
	return hooks.Options{Logger: slog.New(slog.DiscardHandler)}
}

// mustSeal seals reg or fails the test.
func mustSeal(t testing.TB, reg *hooks.Registry) {
	t.Helper()
	if err := reg.Seal(); err != nil {
		t.Fatalf("Seal: %v", err)
	}
}

// mustNil fails the test on a registration error.
func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// install seals reg, swaps it into cur and retires what it replaced.
func install(t testing.TB, cur *hooks.Current, reg *hooks.Registry) {
	t.Helper()
	if !reg.Sealed() {
		mustSeal(t, reg)
	}
	prev, err := cur.Swap(reg)
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if prev != nil {
		if err := prev.Retire(); err != nil {
			t.Fatalf("Retire: %v", err)
		}
	}
}
