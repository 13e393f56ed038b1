package iowrap

import (
	"context"
	"fmt"

	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// DefaultReadLimit bounds what a read job fetches.
const DefaultReadLimit = 64 << 20

// ReadJob fetches the whole content of name (any URL or path this registry opens)
// in the IO pool, then, on loop, calls done with the content or the error and
// re-arms ev with mask. ev is the duplicate that loop.Suspend returned: the
// callback that suspended it returns 0, and its callback runs again, after done, once
// the content is there — the seed's "read a URL in a pool and wake the event".
//
// ReadJob must be called on the loop goroutine (it runs between Suspend and the
// callback's return). It returns an error, and neither done nor the resume happens, if
// the job could not be queued (for example ErrBacklogFull from the loop); the caller
// then still owns ev and must resume or free it. done runs on the loop goroutine and
// must not block.
func (r *Registry) ReadJob(pools *threadpool.Manager, loop *sched.Loop, name string, ev *sched.Event, mask sched.Mask, done func(data []byte, err error)) error {
	class, ok := pools.Class(threadpool.PoolIO)
	if !ok {
		return fmt.Errorf("iowrap: read job for %q: %w %q", name, threadpool.ErrUnknownClass, threadpool.PoolIO)
	}
	var data []byte
	job := &threadpool.Job{
		Name:  "iowrap read " + redact(name),
		Class: class,
		Loop:  loop,
		Mode:  threadpool.CompleteCallbackSched,
		Work: func(*threadpool.Job) error {
			var err error
			data, err = r.ReadFile(context.Background(), name, DefaultReadLimit)
			return err
		},
		// Done runs on the loop after Work; done's results are in place before the
		// event's callback runs again, on a later turn of the same loop.
		Done: func(j *threadpool.Job) {
			done(data, j.Err)
			loop.Resume(ev, mask)
		},
	}
	if err := pools.Submit(job); err != nil {
		return fmt.Errorf("iowrap: read job for %q: %w", name, err)
	}
	return nil
}

// ReadJob runs a read job with the default registry; see Registry.ReadJob.
func ReadJob(pools *threadpool.Manager, loop *sched.Loop, name string, ev *sched.Event, mask sched.Mask, done func(data []byte, err error)) error {
	return defaultRegistry.ReadJob(pools, loop, name, ev, mask, done)
}

// redact hides a password in name, which job names carry into logs and listings.
func redact(name string) string {
	if u, err := parseName(name); err == nil && u.Scheme != "file" {
		return u.Redacted()
	}
	return name
}
