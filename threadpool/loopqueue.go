package threadpool

import (
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

// loopQueue batches the completions bound for one loop. Workers append finished jobs; only the
// first append after a drain calls loop.Dispatch, and the drain completes the whole batch in
// one loop callback. So however many jobs finish while the loop is busy, the loop is handed
// one function, and the eventfd that wakes it is written at most once per batch.
type loopQueue struct {
	loop  *sched.Loop
	drain func(now time.Time) // q.run bound once, so a dispatch allocates no closure

	mu sync.Mutex
	// mu guards the batch list and scheduled.
	head, tail *Job
	scheduled  bool // a drain has been dispatched and has not yet taken the batch
}

// loopQueue returns the completion queue of l, creating it on first use.
func (m *Manager) loopQueue(l *sched.Loop) *loopQueue {
	if q, ok := m.loopQueues.Load(l); ok {
		return q.(*loopQueue)
	}
	q := &loopQueue{loop: l}
	q.drain = q.run
	actual, _ := m.loopQueues.LoadOrStore(l, q)
	return actual.(*loopQueue)
}

// push adds a finished job to the batch, dispatching a drain if none is pending.
// Any goroutine may call it.
func (q *loopQueue) push(j *Job) {
	j.next = nil
	q.mu.Lock()
	if q.tail == nil {
		q.head = j
	} else {
		q.tail.next = j
	}
	q.tail = j
	dispatch := !q.scheduled
	q.scheduled = true
	q.mu.Unlock()
	if dispatch {
		q.loop.Dispatch(q.drain)
	}
}

// run completes the batch; it is called on the loop goroutine. Jobs pushed while it runs start
// a new batch (and a new dispatch), so none waits for a later, unrelated wake-up.
func (q *loopQueue) run(now time.Time) {
	q.mu.Lock()
	j := q.head
	q.head, q.tail = nil, nil
	q.scheduled = false
	q.mu.Unlock()
	for j != nil {
		next := j.next // read first: the completion may submit j again
		j.next = nil
		completeHere(j, now)
		j = next
	}
}
