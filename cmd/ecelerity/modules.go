package main

// The built-in modules compiled into the daemon: each registers itself from init().
// The scriptlet module and the native and Lua module loaders are not here: package
// server makes them, since they hold process state (a Lua runtime, a runtime
// directory). The ESMTP listener is here; package server gives it the loop, the
// pools and the logs it needs before the configuration loads.
import (
	_ "github.com/ecelerity-go/ecelerity/modules/esmtp"
	_ "github.com/ecelerity-go/ecelerity/modules/sample"
)
