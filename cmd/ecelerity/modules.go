package main

// The built-in modules compiled into the daemon: each registers itself from init().
// The scriptlet module and the native and Lua module loaders are not here: package
// server makes them, since they hold process state (a Lua runtime, a runtime directory).
import (
	_ "github.com/ecelerity-go/ecelerity/modules/sample"
)
