package server

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/logging"
)

// coreParticipant applies the server's own options on every committed generation:
// thread pools, log files, paniclog levels and the timestamp format. It takes part
// in the configuration's transactions (after the module manager, which joined
// first), so that a log path that cannot be opened or a TCP control listener without
// authentication rejects the transaction whole, like a module's failure does.
type coreParticipant struct {
	s *Server

	// mu guards staged: what Prepare opened for the transaction in flight.
	mu     sync.Mutex
	staged map[*config.Generation]*prepared
}

type prepared struct {
	set  *coreSettings
	logs *logging.Staged
}

var _ config.Participant = (*coreParticipant)(nil)

// Prepare reads next's settings and opens the log files it names that are not open
// yet. Called on the committing goroutine, never on the loop.
func (p *coreParticipant) Prepare(_ *config.Txn, next *config.Generation) error {
	set, err := p.s.core.read(next)
	if err != nil {
		return err
	}
	staged, err := p.s.logs.Stage(set.logs)
	if err != nil {
		return fmt.Errorf("Logging: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.staged == nil {
		p.staged = map[*config.Generation]*prepared{}
	}
	p.staged[next] = &prepared{set: set, logs: staged}
	return nil
}

// Commit puts next's settings in use.
func (p *coreParticipant) Commit(_, next *config.Generation) {
	p.mu.Lock()
	pr := p.staged[next]
	delete(p.staged, next)
	p.mu.Unlock()
	if pr == nil {
		return
	}
	s := p.s
	if err := pr.logs.Apply(); err != nil {
		s.logf(logging.Error, "log files not switched: %v", err)
	}
	set := pr.set
	if s.opts.Foreground || set.logs.Paniclog == "" {
		s.plog.SetStderr(s.stderr)
	} else {
		s.plog.SetStderr(nil)
	}
	s.plog.SetTimestampFormat(set.tsFormat)
	levels := map[string]logging.Level{}
	if g := s.mods.Current(); g != nil {
		for _, name := range g.Modules() {
			mod, _, _ := strings.Cut(name, ":")
			levels[strings.ToLower(mod)] = logging.DefaultModuleLevel
		}
		g.Release()
	}
	for mod, l := range set.modLevels {
		levels[mod] = l
	}
	s.plog.SetLevels(set.coreLevel, levels)
	if err := s.pools.Apply(set.pools); err != nil {
		s.logf(logging.Error, "thread pools not resized: %v", err)
	}
	// The loader reads the switch at its next load: a change made by this
	// generation counts from the next reload on.
	s.ext.setReload(set.dynamicReload)
	s.settings.Store(set)
}

// Abort closes what Prepare opened.
func (p *coreParticipant) Abort(next *config.Generation) {
	p.mu.Lock()
	pr := p.staged[next]
	delete(p.staged, next)
	p.mu.Unlock()
	if pr != nil {
		pr.logs.Discard()
	}
}
