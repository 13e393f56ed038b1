package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp"
)

// listenerBuiltins is the probe module and the process-wide ESMTP listener.
func listenerBuiltins() *modules.Builtins {
	b := modules.NewBuiltins()
	b.Register(modules.Info{Name: "probe", Singleton: true, New: func() modules.Module { return &probe{} }})
	for _, info := range modules.Registered() {
		if info.Name == esmtp.ModuleName {
			b.Register(info)
		}
	}
	return b
}

// withListener makes a fixture use the server's own loader chain on
// listenerBuiltins.
func withListener(o *Options) {
	o.Loaders, o.Builtins = nil, listenerBuiltins()
}

// listenerConf is a listener on a free loopback port serving example.com, with the
// spool in dir.
func listenerConf(dir string) string {
	return fmt.Sprintf(`Spoolbase = %q
Metrics_Address = "127.0.0.1:0"
Domain "example.com" { }
ESMTP_Listener { Listen "127.0.0.1:0" { } }
`, filepath.Join(dir, "spool"))
}

// mailAddr returns the mail address the server listens on.
func mailAddr(t *testing.T, s *Server) string {
	t.Helper()
	for _, l := range s.Listening() {
		if a, ok := strings.CutPrefix(l, "mail "); ok {
			return a
		}
	}
	t.Fatalf("no mail listener in %q", s.Listening())
	return ""
}

// smtpSession runs a scripted SMTP dialogue: it sends each command and checks that
// the reply starts with the code paired with it.
func smtpSession(t *testing.T, addr string, steps ...[2]string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	if r := reply(); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("greeting %q", r)
	}
	for _, st := range steps {
		if _, err := io.WriteString(c, st[0]); err != nil {
			t.Fatal(err)
		}
		if r := reply(); !strings.HasPrefix(r, st[1]) {
			t.Fatalf("after %q: %q, want %s", st[0], r, st[1])
		}
	}
}

// oneMessage accepts one message for u@example.com and refuses x@elsewhere.example.
var oneMessage = [][2]string{
	{"EHLO client.example\r\n", "250"},
	{"MAIL FROM:<a@client.example>\r\n", "250"},
	{"RCPT TO:<u@example.com>\r\n", "250"},
	{"RCPT TO:<v@example.com>\r\n", "250"},
	{"RCPT TO:<x@elsewhere.example>\r\n", "550"},
	{"DATA\r\n", "354"},
	{"Subject: t\r\n\r\nhello\r\n.\r\n", "250"},
	{"QUIT\r\n", "221"},
}

// TestListenerInTheServer: the listener in the server's own chain listens where the
// ready line says, spools where it says, writes R lines to the server's mainlog,
// counts into its counters and metrics, and answers the spool commands in both
// forms; `generations` shows its sessions.
func TestListenerInTheServer(t *testing.T) {
	dir := t.TempDir()
	f := startFixture(t, listenerConf(dir), withListener)
	addr := mailAddr(t, f.s)
	if ready := readFile(t, f.panic); !strings.Contains(ready, "spool "+filepath.Join(dir, "spool")+"): listening on control") ||
		!strings.Contains(ready, ", mail "+addr) {
		t.Errorf("the ready line does not name the spool and the mail address:\n%s", ready)
	}
	smtpSession(t, addr, oneMessage...)

	c := f.client(t)
	for _, cmd := range []string{"spool count", "ESMTP_Listener spool count"} {
		if out := do(t, c, cmd); out != "1\n" {
			t.Errorf("%s = %q, want 1", cmd, out)
		}
	}
	list := do(t, c, "spool list")
	id, _, _ := strings.Cut(list, " ")
	if !strings.Contains(list, "a@client.example u@example.com,v@example.com") {
		t.Errorf("spool list = %q", list)
	}
	if got, want := f.s.Counters().MessagesReceived.Load(), uint64(1); got != want {
		t.Errorf("messages received %d, want %d (one message, two recipients)", got, want)
	}
	if got := f.s.Counters().MessagesRejected.Load(); got != 1 {
		t.Errorf("messages rejected %d, want 1 (the relaying refusal)", got)
	}
	if ml := readFile(t, filepath.Join(f.dir, "mainlog")); strings.Count(ml, "@R@") != 2 || !strings.Contains(ml, id) {
		t.Errorf("mainlog should have two R lines of %s:\n%s", id, ml)
	}
	gens := do(t, c, "generations")
	if !regexp.MustCompile(`(?m)^generation\s+age\s+refs\s+config refs\s+sessions\s+modules$`).MatchString(gens) ||
		!regexp.MustCompile(`(?m)^\d+\*\s+\S+\s+\d+\s+\d+\s+0\s+`).MatchString(gens) {
		t.Errorf("generations lacks the sessions column:\n%s", gens)
	}
	if out := do(t, c, "spool drop "+id); out != "Dropped "+id+"\n" {
		t.Errorf("spool drop = %q", out)
	}
	if out := do(t, c, "spool count"); out != "0\n" {
		t.Errorf("after the drop, spool count = %q", out)
	}

	var url string
	for _, l := range f.s.Listening() {
		if a, ok := strings.CutPrefix(l, "metrics "); ok {
			url = a
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ecelerity_messages_total{outcome="received"} 1`,
		`ecelerity_messages_total{outcome="rejected"} 1`,
		`ecelerity_listener_sessions{listener="ESMTP_Listener"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestListenerBoundToItsServer: the server binds the listener of its chain to
// itself, so a process-wide Env that cannot work (or one left by another server)
// does not matter; --check binds it too.
func TestListenerBoundToItsServer(t *testing.T) {
	esmtp.Provide(esmtp.Env{}) // no loop, no pools: the module refuses to set up with it
	dir := t.TempDir()
	f := startFixture(t, listenerConf(dir), withListener)
	smtpSession(t, mailAddr(t, f.s), oneMessage...)
	if got := f.s.Counters().MessagesReceived.Load(); got != 1 {
		t.Errorf("messages received %d, want 1", got)
	}

	good := filepath.Join(dir, "check.conf")
	writeConf(t, good, baseConfig(dir, listenerConf(dir)))
	var out strings.Builder
	if !Check(Options{ConfigPath: good, Builtins: listenerBuiltins()}, &out) {
		t.Errorf("check of a listener configuration: %s", out.String())
	}
	bad := filepath.Join(dir, "bad.conf")
	writeConf(t, bad, "ESMTP_Listener {\n  Listen \"127.0.0.1:0\" { }\n  Max_Message_Size = lots\n}\n")
	out.Reset()
	if Check(Options{ConfigPath: bad, Builtins: listenerBuiltins()}, &out) || !strings.Contains(out.String(), bad+":3:") {
		t.Errorf("check of a bad listener option: %s", out.String())
	}
}

// TestSpoolCommandsWithoutTheListener: the top-level spool commands say that the
// listener is not loaded, and check their arguments.
func TestSpoolCommandsWithoutTheListener(t *testing.T) {
	f := startFixture(t, "probe { }\n")
	c := f.client(t)
	for _, tc := range []struct{ line, want string }{
		{"spool count", "not loaded"},
		{"spool drop X", "not loaded"},
		{"spool", "usage"},
		{"spool count extra", "usage"},
		{"spool drop", "usage"},
		{"spool drop a b", "usage"},
	} {
		if got := doErr(t, c, tc.line); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q in it", tc.line, got, tc.want)
		}
	}
	if gens := do(t, c, "generations"); strings.Contains(gens, "sessions") {
		t.Errorf("generations shows a sessions column without a listener:\n%s", gens)
	}
}

// recordLogs keeps what countingLogs passes on.
type recordLogs struct{ recs, rejs []string }

func (r *recordLogs) Reception(x *esmtp.Reception) { r.recs = append(r.recs, x.MsgID+" "+x.RcptLocal) }
func (r *recordLogs) Rejection(x *esmtp.Rejection) { r.rejs = append(r.rejs, x.Phase) }

func TestCountingLogs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		recs       []string // message ID of each R line, in order
		rejs       int
		received   uint64
		rejections uint64
	}{
		{"none", nil, 0, 0, 0},
		{"one recipient", []string{"A"}, 0, 1, 0},
		{"three recipients of one message", []string{"A", "A", "A"}, 0, 1, 0},
		{"messages in a row", []string{"A", "A", "B", "C", "C"}, 2, 3, 2},
		{"rejections only", nil, 3, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &recordLogs{}
			c := &Counters{}
			l := &countingLogs{next: next, c: c}
			for _, id := range tc.recs {
				l.Reception(&esmtp.Reception{MsgID: id, RcptLocal: "u"})
			}
			for range tc.rejs {
				l.Rejection(&esmtp.Rejection{Phase: "rcptto"})
			}
			if got := c.MessagesReceived.Load(); got != tc.received {
				t.Errorf("received %d, want %d", got, tc.received)
			}
			if got := c.MessagesRejected.Load(); got != tc.rejections {
				t.Errorf("rejected %d, want %d", got, tc.rejections)
			}
			if len(next.recs) != len(tc.recs) || len(next.rejs) != tc.rejs {
				t.Errorf("passed on %d R lines and %d rejections, want %d and %d", len(next.recs), len(next.rejs), len(tc.recs), tc.rejs)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	for _, tc := range []struct {
		name, dir, listen     string
		wantSpool, wantListen string
	}{
		{"defaults", "/run/user/1000/ecelerity", "", "/run/user/1000/ecelerity/spool", DefaultESMTPListen},
		{"another port", "/tmp/ecelerity-0", "127.0.0.1:0", "/tmp/ecelerity-0/spool", "127.0.0.1:0"},
		{"quote and backslash in the directory", `/tmp/a"b\c`, "[::1]:2525", `/tmp/a"b\c/spool`, "[::1]:2525"},
		{"spaces and braces", "/tmp/my dir {x}", "", "/tmp/my dir {x}/spool", DefaultESMTPListen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := config.Parse("default.conf", DefaultConfig(tc.dir, tc.listen))
			if err != nil {
				t.Fatal(err)
			}
			root := tree.Root()
			if e := root.Option("Spoolbase"); e == nil || e.Value.Text != tc.wantSpool {
				t.Errorf("Spoolbase = %+v, want %q", e, tc.wantSpool)
			}
			l := root.Child(esmtp.ModuleName, "")
			if l == nil || l.Child("Listen", tc.wantListen) == nil {
				t.Errorf("no %s with Listen %q", esmtp.ModuleName, tc.wantListen)
			}
			if root.Child("Domain", "localhost") == nil {
				t.Errorf("the default serves no domain")
			}
			if strings.Contains(string(DefaultConfig(tc.dir, tc.listen)), "@") {
				t.Errorf("a placeholder is left")
			}
		})
	}
}

func TestFormatGenerations(t *testing.T) {
	gs := []modules.GenerationView{
		{ID: 3, Age: 90 * time.Second, Refs: 2, ConfigRefs: 1, Modules: []string{"ESMTP_Listener"}},
		{ID: 4, Age: time.Second, Current: true, Refs: 3, ConfigRefs: 2, Modules: []string{"ESMTP_Listener", "probe"}},
		{ID: 5, Refs: 1},
	}
	if got, want := formatGenerations(gs, nil), modules.FormatGenerations(gs); got != want {
		t.Errorf("without the listener:\n%s\nwant the module system's table:\n%s", got, want)
	}
	want := "generation age          refs config refs sessions  modules\n" +
		"3          1m30s           2           1        7  ESMTP_Listener\n" +
		"4*         1s              3           2        0  ESMTP_Listener, probe\n" +
		"5          0s              1           0        -  -\n"
	if got := formatGenerations(gs, map[uint64]int64{3: 7, 4: 0}); got != want {
		t.Errorf("with sessions:\n%s\nwant:\n%s", got, want)
	}
}
