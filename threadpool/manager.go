package threadpool

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

// ClassID is a job class: the stable number of a pool name. The zero ClassID names no pool.
// A class keeps its number for the life of the Manager, even while its pool is removed, so a
// module may look it up once per configuration generation.
type ClassID uint32

// Options configure a Manager. The zero value is usable for pools whose jobs never complete on
// a loop.
type Options struct {
	// Loop is the master loop: CompleteModule and CompleteCallbackSched jobs complete on it
	// (unless a Job names its own), and a submit made on it never waits for backlog room.
	Loop *sched.Loop
	// Logger receives panics of jobs and fallbacks to the IO pool; nil means slog.Default().
	Logger *slog.Logger
	// Spin is how long a worker that has just finished a job polls its pool's queue for the
	// next one before it waits to be woken. Zero means 50µs; a negative value turns polling
	// off.
	Spin time.Duration
}

// Manager holds the named pools. Create it with NewManager; every method may be called from
// any goroutine unless its comment says otherwise.
type Manager struct {
	loop *sched.Loop // immutable
	log  *slog.Logger

	// table is the class-indexed pool table that Submit reads without a lock. It is rebuilt
	// (copy on write) under mu whenever a pool is added or leaves.
	table atomic.Pointer[[]*pool]

	// stopping is set once by Shutdown; submits fail from then on.
	stopping atomic.Bool

	mu sync.Mutex
	// mu guards pools, names and warned. Lock order: Manager.mu before pool.mu before
	// Limiter.mu.
	pools  map[string]*pool // live and retiring pools by upper-case name
	names  []string         // class -> name; names[0] is unused so the zero ClassID is invalid
	warned map[ClassID]bool // removed classes whose fallback to IO has been logged

	loopQueues sync.Map // *sched.Loop -> *loopQueue, created on first use of a loop

	// spinners counts workers polling for a job (pool.spin), at most maxSpinners at once: on
	// two cores one spinner and the master loop already fill the machine.
	spinners    atomic.Int32
	maxSpinners int32         // immutable
	spin        time.Duration // Options.Spin with its default; immutable
}

// NewManager returns a manager holding the built-in pools at their defaults. It starts no
// goroutine: workers start with the first job of each pool.
func NewManager(opts Options) *Manager {
	m := &Manager{
		loop:   opts.Loop,
		log:    opts.Logger,
		pools:  make(map[string]*pool),
		names:  []string{""},
		warned: make(map[ClassID]bool),
		// Half the processors, as the Go runtime allows for its own spinning threads.
		maxSpinners: int32(max(1, runtime.GOMAXPROCS(0)/2)),
		spin:        opts.Spin,
	}
	if m.spin == 0 {
		m.spin = defaultSpin
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	for _, s := range DefaultSpecs() {
		m.addLocked(s)
	}
	m.publishLocked()
	return m
}

// classLocked returns the class of an upper-case name, assigning the next one when new.
func (m *Manager) classLocked(name string) ClassID {
	for i, n := range m.names {
		if n == name && i > 0 {
			return ClassID(i)
		}
	}
	m.names = append(m.names, name)
	return ClassID(len(m.names) - 1)
}

// addLocked creates the pool of a checked spec.
func (m *Manager) addLocked(s Spec) {
	c := m.classLocked(s.Name)
	m.pools[s.Name] = newPool(m, s.Name, c, s)
	delete(m.warned, c)
}

// publishLocked rebuilds the class table from pools. Retiring pools are left out: their
// classes fall back to the IO pool.
func (m *Manager) publishLocked() {
	t := make([]*pool, len(m.names))
	for _, p := range m.pools {
		p.mu.Lock()
		if !p.retired {
			t[p.class] = p
		}
		p.mu.Unlock()
	}
	m.table.Store(&t)
}

// Apply makes the pools match a configuration: specs are laid over the built-in defaults; a
// new name creates a pool, a known one is resized in place (queued jobs stay queued), a pool
// that the configuration no longer names is removed. A built-in pool is never removed: it goes
// back to its default. Unlike the reference, Backlog may change at runtime too (the queue is a
// list, not a fixed ring); lowering it below the current queue drops nothing and only holds
// new submits until the queue is short enough.
//
// A removed pool retires: it takes no new job, its classes fall back to the IO pool (logged),
// and its own workers drain what it had queued, at its own concurrency, before it goes. It
// stays in Stats, marked Retiring, until then. Naming it again before that revives it.
//
// Apply checks every spec before it changes anything: on error nothing changes.
func (m *Manager) Apply(specs []Spec) error {
	merged, err := mergeSpecs(specs)
	if err != nil {
		return fmt.Errorf("threadpool: apply: %w", err)
	}
	if m.stopping.Load() {
		return fmt.Errorf("threadpool: apply: %w", ErrShutdown)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := make(map[string]bool, len(merged))
	for _, s := range merged {
		keep[s.Name] = true
		p, ok := m.pools[s.Name]
		if !ok {
			m.addLocked(s)
			continue
		}
		p.mu.Lock()
		if s.Backlog == 0 || s.Backlog > p.backlog {
			p.room.Broadcast()
		}
		p.concurrency = s.Concurrency
		p.backlog = s.Backlog
		p.retired = false
		delete(m.warned, p.class)
		p.kickLocked()
		p.mu.Unlock()
	}
	for name, p := range m.pools {
		if keep[name] {
			continue
		}
		p.mu.Lock()
		p.retired = true
		p.kickLocked()     // idle workers leave once the queue is empty
		p.room.Broadcast() // waiting submitters go to the IO pool
		if p.emptyLocked() {
			delete(m.pools, name)
			close(p.left)
		}
		p.mu.Unlock()
	}
	m.publishLocked()
	return nil
}

// forget drops a retired pool that has drained, unless Apply revived it meanwhile.
func (m *Manager) forget(p *pool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.mu.Lock()
	gone := p.retired && p.emptyLocked() && m.pools[p.name] == p
	p.mu.Unlock()
	if gone {
		delete(m.pools, p.name)
		close(p.left)
	}
}

// Class returns the class of a pool name (any case) and reports whether that pool exists.
func (m *Manager) Class(name string) (ClassID, bool) {
	name, err := canonicalName(name)
	if err != nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[name]
	if !ok || m.poolAt(p.class) != p {
		return 0, false
	}
	return p.class, true
}

// ClassName returns the upper-case pool name of a class and reports whether the class was
// ever assigned.
func (m *Manager) ClassName(c ClassID) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c == 0 || int(c) >= len(m.names) {
		return "", false
	}
	return m.names[c], true
}

// poolAt returns the live pool of a class, or nil.
func (m *Manager) poolAt(c ClassID) *pool {
	t := *m.table.Load()
	if int(c) < len(t) {
		return t[c]
	}
	return nil
}

// resolve returns the pool for a job class: its own, or the IO pool when the class's pool was
// removed (logged once per removal, not per job), or an error for a class never assigned.
func (m *Manager) resolve(j *Job) (*pool, error) {
	if p := m.poolAt(j.Class); p != nil {
		return p, nil
	}
	m.mu.Lock()
	if j.Class == 0 || int(j.Class) >= len(m.names) {
		m.mu.Unlock()
		return nil, fmt.Errorf("threadpool: submit %q: %w %d", j.Name, ErrUnknownClass, j.Class)
	}
	name := m.names[j.Class]
	warn := !m.warned[j.Class]
	m.warned[j.Class] = true
	io := m.classLocked(PoolIO)
	m.mu.Unlock()
	if warn {
		m.log.Warn("threadpool: pool removed, its jobs run in the IO pool", "pool", name, "job", j.Name)
	}
	return m.poolAt(io), nil
}

// Submit queues j in the pool of j.Class (or runs it inline for CompleteSync and for a pool of
// concurrency 0). When the pool's backlog is full it waits for room, except on the master loop
// (Options.Loop, j.Loop or j.Event's loop), where it returns ErrBacklogFull at once: the loop
// never blocks in Submit. A CompleteSync job, and any job of a concurrency-0 pool, runs before
// Submit returns, on the caller's goroutine, which may then be the loop's.
//
// On error the job was not accepted and is idle again; its completion will not run.
func (m *Manager) Submit(j *Job) error {
	return m.submit(j, true)
}

// TrySubmit is Submit that never waits for backlog room: it returns ErrBacklogFull instead.
func (m *Manager) TrySubmit(j *Job) error {
	return m.submit(j, false)
}

func (m *Manager) submit(j *Job, mayWait bool) error {
	if err := m.validate(j); err != nil {
		return err
	}
	if !j.state.CompareAndSwap(jobIdle, jobInFlight) {
		return fmt.Errorf("threadpool: submit %q: %w", j.Name, ErrJobBusy)
	}
	err := m.place(j, mayWait)
	if err != nil {
		j.state.Store(jobIdle)
	}
	return err
}

// unexpect withdraws what pool.push announced to j's loop (sched.Loop.Expect): the completion
// has been queued for the loop, or will not come soon (the job was dropped, or awaits an
// explicit Complete, which may be far off). It must run before the job is idle again, while
// no one else may touch it.
func unexpect(j *Job) {
	if l := j.expecting; l != nil {
		j.expecting = nil
		l.Expect(-1)
	}
}

// place hands an in-flight job to its pool.
func (m *Manager) place(j *Job, mayWait bool) error {
	if m.stopping.Load() {
		return fmt.Errorf("threadpool: submit %q: %w", j.Name, ErrShutdown)
	}
	j.Err = nil
	j.holdsSlot = false
	wait := mayWait && !m.onLoop(j)
	for {
		p, err := m.resolve(j)
		if err != nil {
			return err
		}
		if j.Mode == CompleteSync {
			return m.runInline(p, j)
		}
		switch err := p.push(j, wait, m.completesOn(j)); err {
		case nil:
			return nil
		case errInline:
			return m.runInline(p, j)
		case errRetired:
			continue // removed while we looked: resolve again
		default:
			return fmt.Errorf("threadpool: submit %q to %s: %w", j.Name, p.name, err)
		}
	}
}

// onLoop reports whether the caller runs on a loop that the job or the manager knows of.
func (m *Manager) onLoop(j *Job) bool {
	return (m.loop != nil && m.loop.OnLoop()) ||
		(j.Loop != nil && j.Loop.OnLoop()) ||
		(j.Event != nil && j.Event.Loop() != nil && j.Event.Loop().OnLoop())
}

// validate checks that j carries what its completion mode needs.
func (m *Manager) validate(j *Job) error {
	bad := func(why string) error {
		return fmt.Errorf("threadpool: submit %q: %w: %s", j.Name, ErrInvalidJob, why)
	}
	switch {
	case j == nil:
		return fmt.Errorf("threadpool: submit: %w: nil job", ErrInvalidJob)
	case j.Work == nil:
		return bad("no work function")
	case j.Class == 0:
		return bad("no job class")
	}
	switch j.Mode {
	case CompleteNone, CompleteSync:
	case CompleteEvent:
		if j.Event == nil || j.Mask == 0 {
			return bad("CompleteEvent needs Event and a non-zero Mask")
		}
	case CompleteModule:
		if j.Resumer == nil {
			return bad("CompleteModule needs a Resumer")
		}
	case CompleteCallback, CompleteCallbackSched:
		if j.Done == nil {
			return bad(j.Mode.String() + " needs Done")
		}
	case CompleteSemaphore:
		if j.Sem == nil {
			return bad("CompleteSemaphore needs Sem")
		}
	default:
		return bad("unknown completion mode " + j.Mode.String())
	}
	if (j.Mode == CompleteModule || j.Mode == CompleteCallbackSched) && m.loopOf(j) == nil {
		return bad(j.Mode.String() + " needs a loop (Options.Loop or Job.Loop)")
	}
	return nil
}

// completesOn returns the loop that j's completion is handed to, or nil when it completes
// elsewhere.
func (m *Manager) completesOn(j *Job) *sched.Loop {
	if j.Mode.viaLoopQueue() || j.Mode == CompleteEvent {
		return m.loopOf(j)
	}
	return nil
}

// loopOf returns the loop a job completes on, or nil for modes that need none.
func (m *Manager) loopOf(j *Job) *sched.Loop {
	switch {
	case j.Mode == CompleteEvent:
		return j.Event.Loop()
	case j.Loop != nil:
		return j.Loop
	default:
		return m.loop
	}
}

// runInline runs j on the caller's goroutine and completes it there (or, for loop modes, on
// the loop as usual).
func (m *Manager) runInline(p *pool, j *Job) error {
	if j.Limiter != nil {
		if err := m.acquireInline(j); err != nil {
			return fmt.Errorf("threadpool: submit %q to %s: %w", j.Name, p.name, err)
		}
	}
	j.pool = p
	start := time.Now()
	p.mu.Lock()
	p.busy++
	p.st.invocations++
	p.st.wait.add(0)
	p.mu.Unlock()
	m.run(p, j, start)
	return nil
}

// acquireInline takes j's Limiter slot for an inline run: on the loop only if one is free now,
// elsewhere waiting in line with the parked jobs.
func (m *Manager) acquireInline(j *Job) error {
	if m.onLoop(j) {
		if !j.Limiter.tryAcquire() {
			return ErrLimiterBusy
		}
		j.holdsSlot = true
		return nil
	}
	wake := make(chan struct{})
	j.syncWake = wake
	if !j.Limiter.acquireOrPark(j) {
		<-wake // release hands the slot over and closes wake
	}
	j.syncWake = nil
	j.holdsSlot = true
	return nil
}

// run executes j's work (recovering a panic), accounts for it and completes it. The pool's
// busy count was raised by the caller.
func (m *Manager) run(p *pool, j *Job, start time.Time) {
	err, panicked := m.work(p, j)
	run := time.Since(start)
	j.Err = err
	if j.holdsSlot {
		j.holdsSlot = false
		m.handOff(j.Limiter.release())
	}
	p.mu.Lock()
	p.recordLocked(run, err, panicked)
	p.checkDrainedLocked()
	p.mu.Unlock()
	if j.SkipCompletion {
		unexpect(j)
		j.state.Store(jobAwaiting)
		return
	}
	m.complete(j)
}

// work calls j.Work, turning a panic into an error wrapping ErrPanic.
func (m *Manager) work(p *pool, j *Job) (err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("threadpool: job panicked", "pool", p.name, "job", j.Name, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: pool %s job %q: %v", ErrPanic, p.name, j.Name, v)
			panicked = true
		}
	}()
	return j.Work(j), false
}

// handOff passes a Limiter slot released by one job to the parked job release returned.
func (m *Manager) handOff(next *Job) {
	if next == nil {
		return
	}
	next.holdsSlot = true
	if next.syncWake != nil {
		close(next.syncWake)
		return
	}
	next.pool.requeueFront(next)
}

// finishDropped ends jobs that shutdown dropped before they started: Err is ErrShutdown, a
// Limiter slot handed to them passes on, Free runs; the completion does not.
func (m *Manager) finishDropped(js []*Job) {
	for _, j := range js {
		j.Err = ErrShutdown
		if j.holdsSlot {
			j.holdsSlot = false
			m.handOff(j.Limiter.release())
		}
		free := j.Free
		unexpect(j)
		j.state.Store(jobIdle)
		if free != nil {
			free()
		}
	}
}

// Complete runs the completion of a SkipCompletion job whose work has finished. Callback and
// Semaphore completions run on the caller's goroutine; loop completions go to the loop.
func (m *Manager) Complete(j *Job) error {
	if !j.state.CompareAndSwap(jobAwaiting, jobInFlight) {
		return fmt.Errorf("threadpool: complete %q: %w", j.Name, ErrNotPending)
	}
	m.complete(j)
	return nil
}

// complete runs j's completion here, or queues it for its loop.
func (m *Manager) complete(j *Job) {
	// Read before the hand-over, after which the loop may submit j again. The count drops
	// only once the completion is queued, so a polling loop sees the hand-over before it
	// sees nothing left to expect.
	l := j.expecting
	j.expecting = nil
	if j.Mode.viaLoopQueue() {
		m.loopQueue(m.loopOf(j)).push(j)
	} else {
		completeHere(j, time.Time{})
	}
	if l != nil {
		l.Expect(-1)
	}
}

// completeHere runs j's completion on the current goroutine; now is the loop's time for loop
// modes. The job is idle from the moment the completion starts, so the completion may submit
// it again: what the completion needs is read before, and nothing reads j afterwards.
func completeHere(j *Job, now time.Time) {
	mode, done, free := j.Mode, j.Done, j.Free
	ev, mask, resumer, sem := j.Event, j.Mask, j.Resumer, j.Sem
	j.state.Store(jobIdle)
	switch mode {
	case CompleteEvent:
		// Resume hands the event to its loop (any goroutine may call it; the loop's own
		// hand-over batches the wake-ups), so this mode skips the loopQueue hop. Free must
		// not run before the resumed callback has read the job's data: queued behind the
		// resume, it runs after it, in the loop's FIFO hand-over order.
		l := ev.Loop()
		l.Resume(ev, mask)
		if f := free; f != nil {
			l.Dispatch(func(time.Time) { f() })
			free = nil
		}
	case CompleteModule:
		resumer.Resume(now)
	case CompleteCallback, CompleteCallbackSched:
		done(j)
	case CompleteSync:
		if done != nil {
			done(j)
		}
	case CompleteSemaphore:
		sem.Post()
	}
	if free != nil {
		free()
	}
}

// Stats returns a snapshot of every pool, retiring ones included, sorted by name.
func (m *Manager) Stats() []PoolStats {
	m.mu.Lock()
	pools := make([]*pool, 0, len(m.pools))
	for _, p := range m.pools {
		pools = append(pools, p)
	}
	m.mu.Unlock()
	now := time.Now()
	out := make([]PoolStats, 0, len(pools))
	for _, p := range pools {
		p.mu.Lock()
		out = append(out, p.snapshotLocked(now))
		p.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b PoolStats) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// QueueSnapshot lists the jobs waiting in one pool, for `threads <pool> queue`.
type QueueSnapshot struct {
	Pool   string   // upper case
	Jobs   []string // names of queued jobs, in the order they will start
	Parked int      // jobs of the pool waiting for a Limiter slot, not listed in Jobs
}

// Queue returns the waiting jobs of the named pool (any case), or ErrNoPool.
func (m *Manager) Queue(name string) (QueueSnapshot, error) {
	upper, err := canonicalName(name)
	if err != nil {
		return QueueSnapshot{}, fmt.Errorf("threadpool: queue %q: %w", name, ErrNoPool)
	}
	m.mu.Lock()
	p, ok := m.pools[upper]
	m.mu.Unlock()
	if !ok {
		return QueueSnapshot{}, fmt.Errorf("threadpool: queue %q: %w", name, ErrNoPool)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	q := QueueSnapshot{Pool: p.name, Jobs: make([]string, 0, p.queued), Parked: p.parked}
	for j := p.head; j != nil; j = j.next {
		q.Jobs = append(q.Jobs, j.Name)
	}
	return q, nil
}

// spinEnter takes one of the spinner slots and reports whether it got one.
func (m *Manager) spinEnter() bool {
	for {
		n := m.spinners.Load()
		if n >= m.maxSpinners {
			return false
		}
		if m.spinners.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// spinLeave gives a spinner slot back.
func (m *Manager) spinLeave() { m.spinners.Add(-1) }
