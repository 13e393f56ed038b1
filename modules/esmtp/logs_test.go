package esmtp

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/logging"
)

func sampleRecords() (*Reception, *Rejection) {
	now := time.Unix(1700000000, 0)
	rec := &Reception{Time: now, MsgID: "ID-1", ConnID: 7, RcptLocal: "u", RcptDomain: "example.com", FromLocal: "a@x", FromDomain: "b.example",
		IP: netip.MustParseAddr("192.0.2.1"), Size: 42, Proto: "esmtp", BindGroup: "default", Binding: "default"}
	rej := &Rejection{Time: now, Remote: netip.MustParseAddrPort("192.0.2.1:4000"), Local: netip.MustParseAddrPort("192.0.2.2:25"), ConnID: 7,
		Phase: "rcptto", Code: 550, Module: ModuleName, CtxConn: map[string]string{"ehlo_domain": "x", "#internal": "hidden"},
		CtxMess: map[string]string{"k": "a,b"}, Text: "relaying denied\r\nforged"}
	return rec, rej
}

func TestLineFormats(t *testing.T) {
	rec, rej := sampleRecords()
	if got, want := string(AppendReception(nil, rec)), "1700000000@ID-1@@7@R@u@example.com@a_x@b.example@192.0.2.1@42@esmtp@default@default\n"; got != want {
		t.Errorf("R line %q, want %q", got, want)
	}
	want := `1700000000: R="192.0.2.1:4000" L="192.0.2.2:25" C="7" PATH="default" PATH_GRP="default" P="awaiting rcptto" E=550 M=ESMTP_Listener CTXCONN=[ehlo_domain=x] CTXMESS=[k=a_b] relaying denied__forged` + "\n"
	if got := string(AppendRejection(nil, rej)); got != want {
		t.Errorf("rejectlog line %q, want %q", got, want)
	}
}

func TestLoggingLogs(t *testing.T) {
	dir := t.TempDir()
	l := logging.NewLogs(logging.NewPaniclog(logging.PaniclogOptions{}))
	if err := l.Configure(logging.Paths{Mainlog: filepath.Join(dir, "mainlog"), Rejectlog: filepath.Join(dir, "rejectlog")}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec, rej := sampleRecords()
	var logs Logs = LoggingLogs{L: l}
	logs.Reception(rec)
	logs.Rejection(rej)
	ml, _ := os.ReadFile(filepath.Join(dir, "mainlog"))
	rl, _ := os.ReadFile(filepath.Join(dir, "rejectlog"))
	if !strings.Contains(string(ml), "@ID-1@@7@R@u@example.com@") || strings.Count(string(ml), "@") != 13 {
		t.Errorf("mainlog %q", ml)
	}
	if !strings.Contains(string(rl), `P="awaiting rcptto" E=550 M=ESMTP_Listener`) || strings.Contains(string(rl), "hidden") {
		t.Errorf("rejectlog %q", rl)
	}
}
