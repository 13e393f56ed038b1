package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixed is Sun 30 Nov 2003 10:31:37 UTC, the reference's example time.
var fixed = time.Date(2003, time.November, 30, 10, 31, 37, 0, time.UTC)

func TestStrftime(t *testing.T) {
	morning := time.Date(2024, time.February, 5, 9, 4, 7, 0, time.UTC)
	cases := []struct{ format, t0, want string }{
		{DefaultTimestampFormat, "fixed", "[Sun 30 Nov 2003 10:31:37] "},
		{"%A %B %e|%j|%y|%m", "fixed", "Sunday November 30|334|03|11"},
		{"%e|%j|%I%p|%H", "morning", " 5|036|09AM|09"},
		{"%F %T", "morning", "2024-02-05 09:04:07"},
		{"%D %s %z %Z", "fixed", "11/30/03 1070188297 +0000 UTC"},
		{"100%% %q trailing %", "fixed", "100% %q trailing %"},
		{"%I%p", "fixed", "10AM"},
	}
	for _, c := range cases {
		tm := fixed
		if c.t0 == "morning" {
			tm = morning
		}
		if got := Strftime(c.format, tm); got != c.want {
			t.Errorf("Strftime(%q) = %q, want %q", c.format, got, c.want)
		}
	}
	if got := Strftime("%I %p", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); got != "12 AM" {
		t.Errorf("midnight: %q", got)
	}
	if got := Strftime("%I %p", time.Date(2024, 1, 1, 13, 0, 0, 0, time.UTC)); got != "01 PM" {
		t.Errorf("afternoon: %q", got)
	}
}

func TestParseLevel(t *testing.T) {
	for i, name := range []string{"debug", "INFO", "Notice", "warning", "ERROR", "critical"} {
		l, err := ParseLevel(name)
		if err != nil || l != Level(i) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", name, l, err, Level(i))
		}
		if FromSlog(ToSlog(l)) != l {
			t.Errorf("slog round trip of %v gives %v", l, FromSlog(ToSlog(l)))
		}
	}
	if _, err := ParseLevel("loud"); !errors.Is(err, ErrBadLevel) {
		t.Errorf("ParseLevel(loud) error = %v, want ErrBadLevel", err)
	}
	slogCases := map[slog.Level]Level{
		slog.LevelDebug: Debug, slog.LevelInfo: Info, SlogNotice: Notice,
		slog.LevelWarn: Warning, slog.LevelError: Error, SlogCritical: Critical, 100: Critical, -100: Debug,
	}
	for in, want := range slogCases {
		if got := FromSlog(in); got != want {
			t.Errorf("FromSlog(%v) = %v, want %v", in, got, want)
		}
	}
}

func newTestLog(t *testing.T) (*Paniclog, *Logs, string) {
	t.Helper()
	p := NewPaniclog(PaniclogOptions{Now: func() time.Time { return fixed }})
	l := NewLogs(p)
	t.Cleanup(func() { l.Close() })
	return p, l, t.TempDir()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPaniclogFormatAndFilter(t *testing.T) {
	p, l, dir := newTestLog(t)
	path := filepath.Join(dir, "paniclog.ec")
	if err := l.Configure(Paths{Paniclog: path}); err != nil {
		t.Fatal(err)
	}
	p.SetLevels(Notice, map[string]Level{"Scriptlet": Debug, "esmtp": Critical})
	p.Log(Info, "", "core info is filtered")
	p.Log(Notice, "", "core notice")
	p.Log(Debug, "scriptlet", "hi")
	p.Log(Error, "esmtp", "esmtp error is filtered")
	p.Log(Critical, "esmtp", "two\nlines\n")
	want := "1070188297:ecelerity: core notice\n" +
		"1070188297:scriptlet: hi\n" +
		"1070188297:esmtp: two\n1070188297:esmtp: lines\n"
	if got := readFile(t, path); got != want {
		t.Errorf("paniclog file:\n%s\nwant:\n%s", got, want)
	}
	if !p.Enabled("SCRIPTLET", Debug) || p.Enabled("other", Info) {
		t.Errorf("Enabled ignores the per-tag levels")
	}
}

func TestPaniclogRecentKeepsTenPerLevel(t *testing.T) {
	p, _, _ := newTestLog(t)
	p.SetLevels(Debug, nil)
	for i := range 15 {
		p.Logf(Error, "", "error %d", i)
		if i < 3 {
			p.Logf(Debug, "mod", "debug %d", i)
		}
	}
	rec := p.Recent()
	if len(rec) != RecentPerLevel+3 {
		t.Fatalf("Recent has %d entries, want %d", len(rec), RecentPerLevel+3)
	}
	// Interleaved order is kept: the three debug lines were logged before errors 5..14.
	if rec[0].Text != "debug 0" || rec[3].Text != "error 5" || rec[len(rec)-1].Text != "error 14" {
		t.Errorf("Recent order wrong: first %q, fourth %q, last %q", rec[0].Text, rec[3].Text, rec[len(rec)-1].Text)
	}
	var b bytes.Buffer
	p.WriteRecent(&b)
	first, _, _ := strings.Cut(b.String(), "\n")
	if first != "[Sun 30 Nov 2003 10:31:37] [debug] mod: debug 0" {
		t.Errorf("console line = %q", first)
	}
	if !strings.Contains(b.String(), "[Sun 30 Nov 2003 10:31:37] [serious] ecelerity: error 14\n") {
		t.Errorf("ERROR entries are not shown as [serious]:\n%s", b.String())
	}
}

func TestPaniclogStderrUsesTimestampFormat(t *testing.T) {
	var errOut bytes.Buffer
	p := NewPaniclog(PaniclogOptions{Now: func() time.Time { return fixed }, Stderr: &errOut})
	p.Log(Error, "x", "first")
	p.SetTimestampFormat("%F %T | ")
	p.Log(Error, "x", "second")
	p.SetStderr(nil)
	p.Log(Error, "x", "not copied")
	want := "[Sun 30 Nov 2003 10:31:37] x: first\n2003-11-30 10:31:37 | x: second\n"
	if errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
}

func TestHandler(t *testing.T) {
	p, l, dir := newTestLog(t)
	path := filepath.Join(dir, "p")
	if err := l.Configure(Paths{Paniclog: path}); err != nil {
		t.Fatal(err)
	}
	p.SetLevels(Notice, map[string]Level{"lua": Debug})
	core := p.Logger("")
	core.Info("filtered")
	core.Warn("pool job panicked", "pool", "IO", "job", "spool unlink", "err", errors.New("boom"))
	mod := core.With(TagKey, "lua")
	if !mod.Enabled(t.Context(), slog.LevelDebug) {
		t.Errorf("a module logger does not take its own level")
	}
	mod.Debug("loaded", "script", "a b")
	mod.WithGroup("g").Error("grouped", "k", 1, slog.Group("h", "x", ""))
	core.Log(t.Context(), SlogNotice, "notice", TagKey, "lua")
	want := "1070188297:ecelerity: pool job panicked pool=IO job=\"spool unlink\" err=boom\n" +
		"1070188297:lua: loaded script=\"a b\"\n" +
		"1070188297:lua: grouped g.k=1 g.h.x=\"\"\n" +
		"1070188297:lua: notice\n"
	if got := readFile(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
}

func TestMainlogRecords(t *testing.T) {
	_, l, dir := newTestLog(t)
	path := filepath.Join(dir, "mainlog")
	if l.Mainlog.Enabled() {
		t.Fatal("mainlog enabled with no file")
	}
	if err := l.Mainlog.Heartbeat(fixed); err != nil {
		t.Fatalf("write with no file: %v", err)
	}
	if err := l.Configure(Paths{Mainlog: path}); err != nil {
		t.Fatal(err)
	}
	ids := func() (string, string, string) { return "00/00-25004-31B987F3", "0", "7" }
	m, b, c := ids()
	l.Mainlog.Reception(Reception{Time: fixed, MsgID: m, BatchID: b, ConnID: c, RcptLocal: "bob", RcptDomain: "example.com",
		FromLocal: "al@ice", FromDomain: "example.org", IP: "127.0.0.1", Size: 1234, Proto: "esmtp", BindingGroup: "default", Binding: "default"})
	l.Mainlog.Delivery(Delivery{Time: fixed, MsgID: m, BatchID: b, ConnID: c, Domain: "example.com", Size: 1234,
		BindingGroup: "default", Binding: "default", Retries: 2, Elapsed: 3500 * time.Millisecond, RemoteIP: "10.0.0.1"})
	l.Mainlog.Delivery(Delivery{Time: fixed, MsgID: m, Transfer: true})
	l.Mainlog.Failure(Failure{Time: fixed, MsgID: m, BatchID: b, ConnID: c, Domain: "example.com", Size: 9, Stage: "rcpt",
		Retries: 1, Elapsed: time.Minute, IP: "10.0.0.1", Reply: "451 try\r\nlater"})
	l.Mainlog.Failure(Failure{Time: fixed, Permanent: true, Reply: "550 no"})
	l.Mainlog.Heartbeat(fixed)
	want := strings.Join([]string{
		"1070188297@00/00-25004-31B987F3@0@7@R@bob@example.com@al%40ice@example.org@127.0.0.1@1234@esmtp@default@default",
		"1070188297@00/00-25004-31B987F3@0@7@D@example.com@1234@default@default@2@3@10.0.0.1",
		"1070188297@00/00-25004-31B987F3@@@X@@0@@@0@0@",
		"1070188297@00/00-25004-31B987F3@0@7@T@example.com@9@@@rcpt@1@60@10.0.0.1@451 try  later",
		"1070188297@@@@P@@0@@@@0@0@@550 no",
		"1070188297@@@@M",
	}, "\n") + "\n"
	if got := readFile(t, path); got != want {
		t.Errorf("mainlog:\n%s\nwant:\n%s", got, want)
	}
}

func TestRejectlog(t *testing.T) {
	_, l, dir := newTestLog(t)
	path := filepath.Join(dir, "rejectlog")
	if err := l.Configure(Paths{Rejectlog: path}); err != nil {
		t.Fatal(err)
	}
	l.Rejectlog.Reject(Rejection{Time: fixed, Remote: "127.0.0.1:47741", Local: "127.0.0.1:25", ConnID: "12",
		Phase: "awaiting mailfrom", Code: 550, Module: "scriptlet",
		ConnContext: []KV{{"helo", "a,b"}, {"k", "v=]"}}, MsgContext: nil, Message: `550 5.7.1 "relaying" denied`})
	l.Rejectlog.Heartbeat(fixed)
	want := `1070188297: R="127.0.0.1:47741" L="127.0.0.1:25" C="12" PATH="default" PATH_GRP="default" P="awaiting mailfrom" E=550 M=scriptlet CTXCONN=[helo=a\,b,k=v\=\]] CTXMESS=[] 550 5.7.1 "relaying" denied` + "\n" +
		"1070188297: Marker 1\n"
	if got := readFile(t, path); got != want {
		t.Errorf("rejectlog:\n%s\nwant:\n%s", got, want)
	}
}

func TestLogsKeepSharedFilesAcrossReconfigure(t *testing.T) {
	p, l, dir := newTestLog(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := l.Configure(Paths{Paniclog: a, Mainlog: a}); err != nil {
		t.Fatal(err)
	}
	p.Log(Error, "", "one")
	l.Mainlog.Heartbeat(fixed)
	before, _ := os.Stat(a)
	// Same path again plus a new one: a stays open (not truncated), b is created.
	if err := l.Configure(Paths{Paniclog: a, Rejectlog: b}); err != nil {
		t.Fatal(err)
	}
	p.Log(Error, "", "two")
	l.Mainlog.Heartbeat(fixed) // no mainlog now: not written
	after, _ := os.Stat(a)
	if !os.SameFile(before, after) {
		t.Errorf("the paniclog file was replaced by a reconfigure naming the same path")
	}
	if got := readFile(t, a); got != "1070188297:ecelerity: one\n1070188297@@@@M\n1070188297:ecelerity: two\n" {
		t.Errorf("a = %q", got)
	}
	if _, err := os.Stat(b); err != nil {
		t.Errorf("rejectlog not created: %v", err)
	}
	if files := l.Files(); len(files) != 2 {
		t.Errorf("open files = %v, want a and b", files)
	}
}

func TestLogsStageBadPathChangesNothing(t *testing.T) {
	p, l, dir := newTestLog(t)
	a := filepath.Join(dir, "a")
	newPath := filepath.Join(dir, "new")
	if err := l.Configure(Paths{Paniclog: a}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Stage(Paths{Paniclog: newPath, Mainlog: filepath.Join(dir, "missing", "mainlog")})
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("Stage with a bad path: %v, want ErrOpen", err)
	}
	if _, err := os.Stat(newPath); err != nil {
		t.Fatalf("stage did not open the good path first: %v", err)
	}
	p.Log(Error, "", "still here")
	if got := readFile(t, a); got != "1070188297:ecelerity: still here\n" {
		t.Errorf("paniclog moved after a failed stage: %q", got)
	}
	if l.Paths().Paniclog != a {
		t.Errorf("paths changed: %+v", l.Paths())
	}

	s1, err := l.Stage(Paths{Paniclog: newPath})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := l.Stage(Paths{Paniclog: a})
	if err := s2.Apply(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Apply(); !errors.Is(err, ErrStale) {
		t.Errorf("applying a stage older than the last Apply: %v, want ErrStale", err)
	}
	s3, _ := l.Stage(Paths{Paniclog: newPath})
	s3.Discard()
	p.Log(Error, "", "after discard")
	if got := readFile(t, newPath); got != "" {
		t.Errorf("a discarded stage was written to: %q", got)
	}
}

func TestLogsReopenAfterRotation(t *testing.T) {
	p, l, dir := newTestLog(t)
	a := filepath.Join(dir, "paniclog")
	if err := l.Configure(Paths{Paniclog: a, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	p.Log(Error, "", "before")
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	p.Log(Error, "", "still old")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	p.Log(Error, "", "after")
	if got := readFile(t, a+".1"); got != "1070188297:ecelerity: before\n1070188297:ecelerity: still old\n" {
		t.Errorf("rotated file = %q", got)
	}
	if got := readFile(t, a); got != "1070188297:ecelerity: after\n" {
		t.Errorf("reopened file = %q", got)
	}
	st, _ := os.Stat(a)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("reopened file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestAuditFallsBackToPaniclog(t *testing.T) {
	p, l, dir := newTestLog(t)
	l.Audit().Write([]byte("2003-11-30T10:31:37Z peer=\"x\" command=\"shutdown\" result=ok\n"))
	rec := p.Recent()
	if len(rec) != 1 || rec[0].Tag != "audit" || rec[0].Level != Notice {
		t.Fatalf("audit line without a file: %+v", rec)
	}
	path := filepath.Join(dir, "audit")
	if err := l.Configure(Paths{Auditlog: path}); err != nil {
		t.Fatal(err)
	}
	l.Audit().Write([]byte("line\n"))
	if got := readFile(t, path); got != "line\n" {
		t.Errorf("audit file = %q", got)
	}
}

// TestConcurrentWritesDuringReconfigure writes from several goroutines while the
// files are switched and reopened: every line lands whole in one of the files.
func TestConcurrentWritesDuringReconfigure(t *testing.T) {
	p, l, dir := newTestLog(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := l.Configure(Paths{Paniclog: a, Mainlog: a}); err != nil {
		t.Fatal(err)
	}
	const writers, lines = 4, 200
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range lines {
				p.Logf(Error, "w", "writer %d line %d", w, i)
				l.Mainlog.Heartbeat(fixed)
			}
		}()
	}
	for i := range 20 {
		path := a
		if i%2 == 0 {
			path = b
		}
		if err := l.Configure(Paths{Paniclog: path, Mainlog: path}); err != nil {
			t.Fatal(err)
		}
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	for range writers {
		<-done
	}
	total := 0
	for _, path := range []string{a, b} {
		for line := range strings.SplitSeq(strings.TrimSuffix(readFile(t, path), "\n"), "\n") {
			if line == "" {
				continue
			}
			if !strings.HasPrefix(line, "1070188297:w: writer ") && line != "1070188297@@@@M" {
				t.Fatalf("torn line %q", line)
			}
			total++
		}
	}
	if total != 2*writers*lines {
		t.Errorf("%d lines written, want %d (write errors %d)", total, 2*writers*lines, p.WriteErrors())
	}
}
