package esmtp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/modules/esmtp/spool"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

type ack struct{ id, body string }

// loadClient sends messages on one connection until the connection fails,
// reporting each message the server acknowledged with 250.
func loadClient(addr string, client int, acks chan<- ack) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	br := bufio.NewReader(conn)
	reply := func() (string, error) {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n"), nil
			}
		}
	}
	if _, err := reply(); err != nil {
		return
	}
	for seq := 0; ; seq++ {
		body := fmt.Sprintf("Subject: client %d message %d\r\n\r\n%s\r\n", client, seq, strings.Repeat(strings.Repeat(fmt.Sprintf("%d-%d ", client, seq), 40)+"\r\n", 5))
		if _, err := fmt.Fprintf(conn, "MAIL FROM:<c%d@client.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n", client); err != nil {
			return
		}
		for _, want := range []string{"250", "250", "354"} {
			if r, err := reply(); err != nil || !strings.HasPrefix(r, want) {
				return
			}
		}
		if _, err := fmt.Fprintf(conn, "%s.\r\n", body); err != nil {
			return
		}
		r, err := reply()
		if err != nil || !strings.HasPrefix(r, "250 2.0.0 OK ") {
			return
		}
		acks <- ack{id: strings.TrimPrefix(r, "250 2.0.0 OK "), body: body}
	}
}

// TestKillDuringLoad kills the server with SIGKILL while clients send mail,
// restarts it on the same spool, and checks that every message that got its
// 250 is there, whole, and that no unfinished write is taken for a message.
func TestKillDuringLoad(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith(""))
	const clients, before = 8, 300
	acks := make(chan ack, 1<<16)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); loadClient(d.addr(), i, acks) }()
	}
	var got []ack
	deadline := time.After(90 * time.Second)
	for len(got) < before {
		select {
		case a := <-acks:
			got = append(got, a)
		case <-deadline:
			t.Fatalf("only %d messages acknowledged before the deadline", len(got))
		}
	}
	d.kill() // in the middle of the load: clients are mid-transaction
	wg.Wait()
	close(acks)
	for a := range acks {
		got = append(got, a)
	}

	// The restarted server recovers the spool and serves again.
	d2 := startDaemon(t, dir, confWith(""))
	c, err := net.Dial("tcp", d2.addr())
	if err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "220 ") {
		t.Fatalf("restarted server greets %q", line)
	}
	c.Close()
	counted := strings.TrimSpace(d2.ok("spool", "count"))
	d2.stop()

	q := filepath.Join(dir, "spool", "queue")
	des, err := os.ReadDir(q)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".tmp-") {
			t.Errorf("unfinished write %s left after the restart", de.Name())
		}
	}
	// A write cut by the kill may leave the unfinished tail of a segment,
	// which recovery keeps as corrupt/<segment>.tail; nothing else may be
	// found damaged.
	corrupt, _ := os.ReadDir(filepath.Join(dir, "spool", "corrupt"))
	for _, de := range corrupt {
		if strings.HasSuffix(de.Name(), ".tail") {
			t.Logf("unfinished segment tail kept: %s", de.Name())
			continue
		}
		t.Errorf("spool file %s found corrupt", de.Name())
	}
	sp := openSpool(t, filepath.Join(dir, "spool"))
	for _, a := range got {
		env, body, err := sp.Load(a.id)
		if err != nil {
			t.Errorf("acknowledged message %s: %v", a.id, err)
			continue
		}
		if string(body) != a.body || len(env.Rcpts) != 1 {
			t.Errorf("acknowledged message %s damaged: %d bytes, want %d", a.id, len(body), len(a.body))
		}
	}
	if sp.Count() < len(got) {
		t.Errorf("spool holds %d messages, %d were acknowledged", sp.Count(), len(got))
	}
	if counted != fmt.Sprint(sp.Count()) {
		t.Errorf("the restarted daemon's spool count said %s, the spool holds %d", counted, sp.Count())
	}
	t.Logf("%d messages acknowledged before SIGKILL; %d in the spool after the restart", len(got), sp.Count())
}

// openSpool opens a spool directory in the test process, to read it.
func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	pools := threadpool.NewManager(threadpool.Options{Loop: loop})
	class, _ := pools.Class(threadpool.PoolSpoolIn)
	sp, _, err := spool.Open(spool.Options{Dir: dir, Pools: pools, Class: class, Loop: loop})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sp.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pools.Shutdown(ctx)
		loop.Stop()
		<-done
	})
	return sp
}
