package threadpool_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ecelerity-go/ecelerity/threadpool"
)

// A configuration names a pool; a job looks its class up once and completes by posting a
// semaphore that the submitter waits on.
func Example() {
	m := threadpool.NewManager(threadpool.Options{})
	if err := m.Apply([]threadpool.Spec{{Name: "dkim", Concurrency: 2, Backlog: 100}}); err != nil {
		fmt.Println(err)
		return
	}
	class, _ := m.Class("DKIM")
	var done threadpool.Semaphore
	job := &threadpool.Job{
		Name:  "sign",
		Class: class,
		Work:  func(j *threadpool.Job) error { j.Data = "signed"; return nil },
		Mode:  threadpool.CompleteSemaphore,
		Sem:   &done,
	}
	if err := m.Submit(job); err != nil {
		fmt.Println(err)
		return
	}
	if err := done.Wait(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.Data, job.Err)

	q, _ := m.Queue("dkim")
	_ = threadpool.WriteQueue(os.Stdout, q)
	report, err := m.Shutdown(context.Background())
	fmt.Println(report, err)
	// Output:
	// signed <nil>
	// Jobs in the DKIM pool
	// 0 jobs
	// no jobs abandoned <nil>
}
