package esmtp

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
)

// policyScript is a policy in Momentum's scriptlet style: it refuses a
// recipient domain, looks a sender up in a pool (which suspends the session),
// reads a header and chooses a binding.
const policyScript = `
require("msys.core")
local mod = {}

function mod:validate_ehlo(str, ac, vctx)
  if str == "evil.example" then
    vctx:disconnect(554, "5.7.1 not talking to you")
    return msys.core.VALIDATE_DONE
  end
  return msys.core.VALIDATE_CONT
end

function mod:validate_mailfrom(str, ac, vctx)
  if str == "slow@b.example" then
    local ok, res = msys.runInPool("IO", function() return "checked" end)
    vctx:set(msys.core.VCTX_MESS, "lookup", res)
  end
  return msys.core.VALIDATE_CONT
end

function mod:validate_rcptto(msg, rcpt, ac, vctx)
  local domain = vctx:get(msys.core.VCTX_MESS, "rcptto_domain")
  if domain == "blocked.example" then
    vctx:set_code(550, "5.7.1 domain blocked by policy")
    return msys.core.VALIDATE_DONE
  end
  return msys.core.VALIDATE_CONT
end

function mod:validate_data_spool(msg, ac, vctx)
  local subj = msg:header("Subject")
  if subj[1] == "spam" then
    vctx:set_code(550, "5.7.1 looks like spam from " .. msg:mailfrom())
    return msys.core.VALIDATE_DONE
  end
  if msg:context_get(msys.core.VCTX_MESS, "mailfrom_string") == "slow@b.example" and
     vctx:get(msys.core.VCTX_MESS, "lookup") ~= "checked" then
    vctx:set_code(451, "lookup lost")
  end
  return msys.core.VALIDATE_CONT
end

function mod:validate_set_binding(msg)
  msg:binding("lua")
  return msys.core.VALIDATE_DONE
end

msys.registerModule("policy", mod)
`

func startLuaServer(t *testing.T) *server {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var rt *scriptlet.Runtime
	s := startServerWith(t, "", nil, func(s *server) []modules.Info {
		rt = scriptlet.New(scriptlet.Options{Loop: s.loop, Pools: s.pools, Logger: quiet})
		t.Cleanup(func() { rt.Close() })
		if err := os.WriteFile(filepath.Join(s.dir, "policy.lua"), []byte(policyScript), 0o600); err != nil {
			t.Fatal(err)
		}
		return []modules.Info{rt.Info()}
	})
	s.reload(strings.Replace(baseConf, `Domain "example.com" { }`, `Domain "example.com" { }
Domain "blocked.example" { }
scriptlet "scriptlet" { script "policy" { source = "policy" } }`, 1))
	return s
}

func TestLuaPolicy(t *testing.T) {
	s := startLuaServer(t)
	c := s.dial()
	c.expect("220 ")
	c.cmd("EHLO good.example", "250 ")
	c.cmd("MAIL FROM:<slow@b.example>", "250 ")
	c.cmd("RCPT TO:<u@blocked.example>", "550 5.7.1 domain blocked by policy")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: spam\r\n\r\nbuy\r\n.\r\n")
	c.expect("550 5.7.1 looks like spam from slow@b.example")
	c.cmd("MAIL FROM:<slow@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: hello\r\n\r\nhi\r\n.\r\n")
	id := idOf(t, c.expect("250 2.0.0"))
	env, _, err := s.module().Spool().Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if env.Binding != "lua" {
		t.Fatalf("binding %q, want the one the script chose", env.Binding)
	}
	c.cmd("EHLO evil.example", "554 5.7.1 not talking to you")
	if !c.closed() {
		t.Fatal("vctx:disconnect kept the session")
	}
	s.logs.Close()
	if rl := s.reject.String(); !strings.Contains(rl, `P="awaiting rcptto" E=550 M=scriptlet`) {
		t.Fatalf("rejectlog %q", rl)
	}
}
